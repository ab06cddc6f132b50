"""`concept_drift`: the quality job's metric (computed from late labels, exporter contract) below a floor."""

from __future__ import annotations

from compiler.language.units import format_duration
from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number, template_literal
from targets.prometheus.ruleset import Group, Scenario, Series, gauge


def concept_drift(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.metric is not None
    sel = ctx.id_selector(contract.QUALITY, metric=m.metric)
    eval_s = ctx.eval_after(m.for_)
    ctx.alert(group, m, "", f"min({sel}) < {number(m.threshold)}",
              f"{template_literal(m.metric)} of {ctx.who()} fell below {number(m.threshold)}",
              f"{template_literal(m.metric)}, computed from labels that arrive "
              f"{format_duration((m.label_delay_seconds or 0) * 1000)} late, is below its floor "
              f"{number(m.threshold)}.",
              [Scenario("fires", (Series(sel, gauge(m.threshold - 0.1, eval_s)),), eval_s, ({},)),
               Scenario("healthy", (Series(sel, gauge(m.threshold + 0.1, eval_s)),), eval_s, ())])
