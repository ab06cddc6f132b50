"""Staleness of batch-exported metrics: one pair of alerts per batch job (drift, quality, fairness:
contract.LAST_RUN) whose series a model's monitors read, after every monitor's own rules.

`<Family>ExporterStale` when the job's last-run gauge is older than `stalenessFactor` of the longest
window of its monitors, `<Family>ExporterMissing` when the gauge is absent that long.
"""

from __future__ import annotations

from collections.abc import Mapping

from compiler.language.units import duration_seconds, format_duration
from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import template_literal
from targets.prometheus.ruleset import Group, Scenario, Series, camel, counter, gauge


def staleness(ctx: RuleContext, jobs: Mapping[str, str]) -> None:
    """`jobs`: monitor kind -> the batch job exporting its series (rules.JOBS)."""
    families: dict[str, list[MonitorPlan]] = {}
    for _, monitor in ctx.monitors:
        if monitor.kind in jobs:
            families.setdefault(jobs[monitor.kind], []).append(ctx.scaled(monitor))
    for family, monitors in families.items():
        metric = contract.LAST_RUN[family]
        window = max(m.window_seconds for m in monitors)
        stale_s = int(window * ctx.settings.stalenessFactor)
        stale = format_duration(stale_s * 1000)
        first = monitors[0]
        runbook = next((m.runbook for m in monitors if m.runbook), None) or ctx.settings.stalenessRunbookUrl
        group = Group(f"mlspec.{ctx.plan.name}.{ctx.env.name}.{family}-exporter", first.name)
        ctx.groups.append(group)
        sel = ctx.id_selector(metric)
        names = ", ".join(m.name for m in monitors)
        labels = {"exporter": family}
        for_stale = ctx.scale("5m")
        # A last run long before the test's time 0 is stale at once, so the test stays short.
        eval_stale = duration_seconds(for_stale) + 300
        alert = ctx.alert(
            group, first, "", f"time() - max({sel}) > {stale_s}",
            f"The {family} job of {ctx.who()} has not reported for {stale}",
            f"{metric} is older than {stale}: the monitors {template_literal(names)} are blind.",
            [Scenario("fires", (Series(sel, gauge(-2 * stale_s, eval_stale)),), eval_stale, ({},)),
             Scenario("healthy", (Series(sel, counter(1, eval_stale)),), eval_stale, ())],
            severity=ctx.paging, retrain=False, for_=for_stale, runbook=runbook, keep_firing=False)
        alert.name = f"{camel(family)}ExporterStale"
        alert.labels.update(labels)
        eval_missing = stale_s + 300
        alert = ctx.alert(
            group, first, "", f"absent({sel})",
            f"The {family} job of {ctx.who()} never reported",
            f"No {metric} series for {stale}: the monitors {template_literal(names)} are blind.",
            [Scenario("fires", (), eval_missing, ({},)),
             Scenario("healthy", (Series(sel, counter(1, eval_missing)),), eval_missing, ())],
            severity=ctx.paging, retrain=False, for_=stale, runbook=runbook, keep_firing=False)
        alert.name = f"{camel(family)}ExporterMissing"
        alert.labels.update(labels)
        # absent() carries the selector's equality matchers as labels.
        alert.scenarios[0] = Scenario("fires", (), eval_missing, (dict(ctx.identity),))
