"""`error_rate`: failed over all requests above a threshold, under traffic; and, where the failures
come from the exporter contract's counter, an alert when that counter is missing while requests flow."""

from __future__ import annotations

from compiler.planning.plan import MonitorPlan
from targets.prometheus import servingseries
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number
from targets.prometheus.ruleset import Group, Scenario


def error_ratio(ctx: RuleContext, group: Group, window: str) -> str:
    errors = ctx.stack.errors(ctx.plan.name, ctx.env.namespace, window)
    # Recorded series carry identity labels; the raw, unlabelled expressions divide cleanly.
    return ctx.record(group, f"ml:request_errors:ratio_rate{window}", f"{errors} / {ctx.requests_expr(window)}")


def error_rate(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    w, thr = m.window, m.threshold
    ratio = error_ratio(ctx, group, w)
    req = ctx.requests(group, w)
    guard = ctx.guard_rate(w)
    eval_s = ctx.eval_after(w, m.for_)
    rate = ctx.busy(w)
    ctx.alert(group, m, "", f"({ratio} > {number(thr)}) and on () ({req} >= {number(guard)})",
              f"Error ratio of {ctx.who()} is above {number(thr * 100)}%",
              f"More than {number(thr * 100)}% of requests failed over {w} while serving at least "
              f"{number(guard)} requests per second.",
              [Scenario("fires", tuple(servingseries.traffic(ctx, 0, rate, eval_s)), eval_s, ({},)),
               Scenario("healthy", tuple(servingseries.traffic(ctx, rate, 0, eval_s)), eval_s, ()),
               Scenario("low-traffic", tuple(servingseries.traffic(ctx, 0, guard / 4, eval_s)), eval_s, ())])
    errors_missing(ctx, group, m, req, guard, eval_s, rate)


def errors_missing(ctx: RuleContext, group: Group, m: MonitorPlan, req: str, guard: float, eval_s: int,
                   rate: float) -> None:
    """The contract's failure counter is absent while requests flow: the error ratio is blind."""
    s = ctx.stack
    sel = s.errors_selector(ctx.plan.name, ctx.env.namespace)
    if not s.errors_from_contract or sel is None:
        return
    served = tuple(x for x in servingseries.traffic(ctx, rate, 0, eval_s)
                   if not x.series.startswith(s.errors_metric or ""))
    ctx.alert(
        group, m, "ErrorCounterMissing", f"absent({sel}) and on () ({req} >= {number(guard)})",
        f"{ctx.who()} serves traffic but exports no failure counter",
        f"{s.errors_metric} is missing while requests are served, so the {m.name} monitor cannot see errors: "
        f"the predictor must export it (initialised at 0), see docs/metrics.md.",
        [Scenario("fires", served, eval_s, (s.matchers(ctx.plan.name, ctx.env.namespace),)),
         Scenario("healthy", tuple(servingseries.traffic(ctx, rate, 0, eval_s)), eval_s, ())],
        severity="warning", retrain=False, keep_firing=False)
