"""`fairness`: the fairness job's metric across groups of an attribute (exporter contract): the absolute
difference above a threshold, or `disparate_impact` below it."""

from __future__ import annotations

from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number, template_literal
from targets.prometheus.ruleset import Group, Scenario, Series, gauge


def fairness(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.metric is not None
    assert m.attribute is not None
    sel = ctx.id_selector(contract.FAIRNESS, metric=m.metric, attribute=m.attribute)
    eval_s = ctx.eval_after(m.for_)
    thr = m.threshold
    if m.metric == "disparate_impact":
        expr, bad, good, word = f"min({sel}) < {number(thr)}", thr - 0.1, thr + 0.1, "below"
    else:
        expr, bad, good, word = f"max(abs({sel})) > {number(thr)}", abs(thr) + 0.1, abs(thr) / 2, "above"
    ctx.alert(group, m, "", expr,
              f"{m.metric} of {ctx.who()} by {template_literal(m.attribute)} is {word} {number(thr)}",
              f"The fairness metric {m.metric} across groups of {template_literal(m.attribute)} "
              f"is {word} {number(thr)}.",
              [Scenario("fires", (Series(sel, gauge(bad, eval_s)),), eval_s, ({},)),
               Scenario("healthy", (Series(sel, gauge(good, eval_s)),), eval_s, ())])
