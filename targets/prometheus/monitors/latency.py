"""`latency`: a quantile of the serving stack's latency histogram above a threshold, under traffic."""

from __future__ import annotations

from compiler.planning.plan import MonitorPlan
from targets.prometheus import servingseries
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number
from targets.prometheus.ruleset import Group, Scenario


def latency(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.quantile is not None
    w, thr, q = m.window, m.threshold, m.quantile
    s = ctx.stack
    lat = s.latency
    assert lat is not None
    inner = (f"sum by (le) (rate({s.latency_selector(lat.bucket_metric, ctx.plan.name, ctx.env.namespace)}"
             f"[{w}]))")
    scale = f" * {number(lat.unit_seconds)}" if lat.unit_seconds != 1 else ""
    latency = ctx.record(group, f"ml:request_latency_seconds:histogram_quantile_rate{w}",
                         f"histogram_quantile({number(q)}, {inner}){scale}", quantile=number(q))
    req = ctx.requests(group, w)
    guard = ctx.guard_rate(w)
    expr = f"({latency} > {number(thr)}) and on () ({req} >= {number(guard)})"
    eval_s = ctx.eval_after(w, m.for_)
    rate = ctx.busy(w)
    slow = {thr / 2: 0.0, thr * 2: rate}
    fast = {thr / 2: rate, thr * 2: rate}
    low = guard / 4
    ctx.alert(group, m, "", expr,
              f"p{number(q * 100)} latency of {ctx.who()} is above {number(thr)}s",
              f"The {number(q)} quantile of request latency over {w} exceeds {number(thr)} seconds "
              f"while serving at least {number(guard)} requests per second.",
              [Scenario("fires", tuple(servingseries.traffic(ctx, rate, 0, eval_s)
                                       + servingseries.latency(ctx, slow, rate, eval_s)), eval_s, ({},)),
               Scenario("healthy", tuple(servingseries.traffic(ctx, rate, 0, eval_s)
                                         + servingseries.latency(ctx, fast, rate, eval_s)), eval_s, ()),
               Scenario("low-traffic", tuple(servingseries.traffic(ctx, low, 0, eval_s)
                                             + servingseries.latency(ctx, {thr / 2: 0.0, thr * 2: low}, low,
                                                                     eval_s)),
                        eval_s, ())],
              carried={"quantile": number(q)})
