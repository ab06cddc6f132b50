"""`throughput`: the request rate below `min` (no traffic counts as zero) or above `max`."""

from __future__ import annotations

from compiler.planning.plan import MonitorPlan
from targets.prometheus import servingseries
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number
from targets.prometheus.ruleset import Group, Scenario


def throughput(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    w = m.window
    req = ctx.requests(group, w)
    eval_s = ctx.eval_after(w, m.for_)
    lo, hi = m.min_rps or 0.0, m.max_rps
    healthy = (lo + hi) / 2 if hi is not None else max(lo * 2, 1.0)
    if lo > 0:
        ctx.alert(group, m, "Low", f"{req} < {number(lo)}",
                  f"{ctx.who()} serves fewer than {number(lo)} requests per second",
                  f"Request rate over {w} fell below {number(lo)} per second (no traffic counts as zero).",
                  [Scenario("fires", (), eval_s, ({},)),
                   Scenario("healthy", tuple(servingseries.traffic(ctx, healthy, 0, eval_s)), eval_s, ())])
    if hi is not None:
        ctx.alert(group, m, "High", f"{req} > {number(hi)}",
                  f"{ctx.who()} serves more than {number(hi)} requests per second",
                  f"Request rate over {w} rose above {number(hi)} per second.",
                  [Scenario("fires", tuple(servingseries.traffic(ctx, hi * 2, 0, eval_s)), eval_s, ({},)),
                   Scenario("healthy", tuple(servingseries.traffic(ctx, healthy, 0, eval_s)), eval_s, ())])
