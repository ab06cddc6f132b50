"""`slo`: multi-window multi-burn-rate alerts on the availability or latency error budget.

The tiers (windows, factors, which ones page) come from targets.prometheus.burnrate; here each
window's error ratio is recorded once and the page and ticket alerts combine their tiers.
"""

from __future__ import annotations

from compiler.language.units import duration_seconds
from compiler.planning.plan import MonitorPlan
from targets.prometheus import burnrate, servingseries
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number
from targets.prometheus.ruleset import Group, Scenario


def slo(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.objective is not None
    assert m.period_seconds is not None
    tiers = burnrate.tiers(m.objective, m.period_seconds)
    s, name, ns = ctx.stack, ctx.plan.name, ctx.env.namespace
    lat = s.latency
    ratios: dict[str, str] = {}
    long = {t.long: ctx.scale(t.long) for t in tiers}
    short = {t.short: ctx.scale(t.short) for t in tiers}
    for w in sorted({*long.values(), *short.values()}, key=duration_seconds):  # shortest first
        if m.sli == "latency":
            assert m.latency_seconds is not None
            assert lat is not None
            good = (f"sum(rate({s.latency_selector(lat.bucket_metric, name, ns, s.le_values(m.latency_seconds))}"
                    f"[{w}]))")
            total = f"sum(rate({s.latency_selector(lat.count_metric, name, ns)}[{w}]))"
            expr = f"1 - ({good} / {total})"
        else:
            expr = f"{s.errors(name, ns, w)} / {ctx.requests_expr(w)}"
        ratios[w] = ctx.record(group, f"ml:slo_errors:ratio_rate{w}", expr, slo=m.name)
    budget = 1 - float(burnrate.objective_fraction(m.objective))
    page_severity = m.severity
    ticket_severity = "warning" if m.severity == "critical" else m.severity
    for page, suffix, severity in ((True, "BurnRatePage", page_severity),
                                   (False, "BurnRateTicket", ticket_severity)):
        chosen = [t for t in tiers if t.page == page]
        if not chosen:
            continue
        conditions = " or ".join(
            f"({ratios[long[t.long]]} > {number(t.threshold)} and {ratios[short[t.short]]} > "
            f"{number(t.threshold)})"
            for t in chosen)
        # The short window confirms the burn is still happening; it must carry enough traffic too.
        guard_window = short[chosen[0].short]
        req = ctx.requests(group, guard_window)
        guard = ctx.guard_rate(guard_window)
        expr = f"({conditions}) and on () ({req} >= {number(guard)})"
        # rate() over a window older than the data underestimates: let the guard's window fill.
        eval_s = ctx.eval_after(guard_window, m.for_, extra=900)
        rate = ctx.busy(guard_window)
        tiers_text = ", ".join(f"{number(t.factor)}x over {t.long} and {t.short}" for t in chosen)
        if m.sli == "latency":
            assert m.latency_seconds is not None
            slow_at = m.latency_seconds
            bad = servingseries.traffic(ctx, rate, 0, eval_s) + servingseries.latency(ctx, {slow_at: 0.0}, rate, eval_s)
            good_series = (servingseries.traffic(ctx, rate, 0, eval_s)
                           + servingseries.latency(ctx, {slow_at: rate}, rate, eval_s))
            low = (servingseries.traffic(ctx, guard / 4, 0, eval_s)
                   + servingseries.latency(ctx, {slow_at: 0.0}, guard / 4, eval_s))
            what = f"requests slower than {number(slow_at)}s"
        else:
            bad = servingseries.traffic(ctx, 0, rate, eval_s)
            good_series = servingseries.traffic(ctx, rate, 0, eval_s)
            low = servingseries.traffic(ctx, 0, guard / 4, eval_s)
            what = "failed requests"
        ctx.alert(group, m, suffix, expr,
                  f"{ctx.who()} burns its {number(m.objective * 100)}% {m.sli} error budget too fast",
                  f"The {m.period} error budget ({number(budget * 100)}% {what}) burns at {tiers_text}.",
                  [Scenario("fires", tuple(bad), eval_s, ({},)),
                   Scenario("healthy", tuple(good_series), eval_s, ()),
                   Scenario("low-traffic", tuple(low), eval_s, ())],
                  severity=severity, retrain=None if page else False, keep_firing=False,
                  carried={"slo": m.name})
