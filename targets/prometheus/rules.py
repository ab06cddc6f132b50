"""Monitors to Prometheus rules: the one table from monitor kind to the family that builds its rules.

One `RuleSet` per model and environment. Each monitor family (targets/prometheus/monitors/) builds
its alerts together with the input series that make them fire and the ones that keep them silent,
from the same selector code, so the generated unit tests check the rules against the metric contract
rather than against a copy of the query. Shared pieces (labels, annotations, severities, `for:`,
the low-traffic guard) are targets.prometheus.context's; the data model is targets.prometheus.ruleset's.

Adding a monitor kind is one family module (or one function in an existing family) and one entry in
`KINDS`, which also says whether the kind reads live traffic and which batch job exports its series;
tests/prometheus/test_dispatch.py fails until every kind of the spec language has its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from compiler.monitoring.serving_metrics import Stack
from compiler.planning.plan import EnvironmentPlan, MonitorPlan, Plan
from targets.prometheus.context import RuleContext
from targets.prometheus.monitors import cost, drift, errors, fairness, latency, llm, quality, slo, staleness, throughput
from targets.prometheus.ruleset import Group, RuleSet
from targets.prometheus.settings import PrometheusSettings

KindRules = Callable[[RuleContext, Group, MonitorPlan], None]


@dataclass(frozen=True, slots=True)
class Kind:
    """How a monitor kind is watched. `rules`: its family's builder; `live`: it reads the serving stack's
    request metrics, which batch and edge models do not have; `job`: the batch job exporting its series
    (contract.LAST_RUN), whose staleness alerts come with the monitor (monitors/staleness.py)."""

    rules: KindRules
    live: bool = False
    job: str | None = None


# Monitor kind -> how it is watched. One entry per kind of the spec language.
KINDS: Mapping[str, Kind] = MappingProxyType({
    "latency": Kind(latency.latency, live=True),
    "error_rate": Kind(errors.error_rate, live=True),
    "throughput": Kind(throughput.throughput, live=True),
    "slo": Kind(slo.slo, live=True),
    "data_drift": Kind(drift.data_drift, job="drift"),
    "prediction_drift": Kind(drift.prediction_drift, job="drift"),
    "concept_drift": Kind(quality.concept_drift, job="quality"),
    "fairness": Kind(fairness.fairness, job="fairness"),
    "cost": Kind(cost.cost),
    "hallucination_rate": Kind(llm.hallucination_rate),
    "grounding": Kind(llm.grounding),
    "token_cost": Kind(llm.token_cost),
})
JOBS: Mapping[str, str] = MappingProxyType({name: kind.job for name, kind in KINDS.items() if kind.job})


def build(plan: Plan, env: EnvironmentPlan, settings: PrometheusSettings) -> RuleSet:
    """Every applicable monitor's rules, in spec order, then the batch exporters' staleness alerts."""
    ctx = RuleContext(plan, env, settings)
    ctx.skipped.extend(unwatched(ctx))
    skipped = {index for index, _ in ctx.skipped}
    for index, monitor in ctx.monitors:
        if index in skipped:
            continue
        kind = KINDS[monitor.kind]
        missing = unexported(ctx.stack, monitor)
        if missing is not None:
            ctx.unsupported.append((index, *missing))
            continue
        monitor = ctx.scaled(monitor)
        group = Group(f"mlspec.{plan.name}.{env.name}.{monitor.name}", monitor.name)
        ctx.groups.append(group)
        kind.rules(ctx, group, monitor)
    staleness.staleness(ctx, JOBS)
    return RuleSet(plan, env, ctx.stack, ctx.live, ctx.groups, ctx.skipped, ctx.unsupported, ctx.monitors)


def unwatched(ctx: RuleContext) -> list[tuple[int, str]]:
    """(monitor index, why) for the monitors `build` makes no rules for: the live-traffic kinds on a
    model that serves none. Known without building the rules (the target's check needs only this)."""
    return [(index, f"a {ctx.plan.serving.pattern} model serves no live traffic, so the {monitor.kind} "
                    f"monitor has no metrics to watch")
            for index, monitor in ctx.monitors if KINDS[monitor.kind].live and not ctx.live]


_ERRORS_HINT = ("declare the exporter contract's failure counter (targets.prometheus.inferenceErrors: exporter, "
                "docs/metrics.md) and export ml_inference_errors_total from the predictor, or serve on a stack "
                "that counts failures (knative, mlserver, triton)")


def unexported(stack: Stack, m: MonitorPlan) -> tuple[str, str] | None:
    """(why, hint) when `m` reads a series `stack` does not export, else None."""
    needs_errors = m.kind == "error_rate" or (m.kind == "slo" and m.sli == "availability")
    needs_latency = m.kind == "latency" or (m.kind == "slo" and m.sli == "latency")
    if KINDS[m.kind].live and stack.requests_metric is None:
        return f"{stack.what} exports no request counter for the {m.kind} monitor", "choose another servingStack"
    if needs_errors and stack.errors_metric is None:
        what = "error rate" if m.kind == "error_rate" else "availability SLO"
        return (f"the {what} monitor {m.name!r} needs a failure counter, and {stack.what} exports none "
                f"(an absent counter would read as 0% errors)", _ERRORS_HINT)
    if needs_latency and stack.latency is None:
        return (f"the latency monitor {m.name!r} needs a latency histogram, and {stack.what} exports none",
                "use a serving stack with a latency histogram, or watch latency in the runtime's own terms")
    return None


__all__ = ["JOBS", "KINDS", "Kind", "KindRules", "build", "unexported", "unwatched"]
