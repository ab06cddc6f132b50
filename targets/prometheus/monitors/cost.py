"""`cost`: accrued inference cost per inference (exporter contract counters) above a threshold."""

from __future__ import annotations

from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number
from targets.prometheus.ruleset import Group, Series, counter


def cost(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.currency is not None
    thr, cur, e = m.threshold, m.currency, ctx.eval_window(m)
    cost_sel = ctx.id_selector(contract.COST, currency=cur)
    inf_sel = ctx.id_selector(contract.INFERENCES)
    rate, low = ctx.ratio_rates()

    def series(per_inference: float, inferences: float) -> list[Series]:
        return [Series(cost_sel, counter(per_inference * inferences, e)), Series(inf_sel, counter(inferences, e))]

    ctx.ratio_alert(group, m, record="ml:inference_cost:per_inference_rate",
                    numerator=f"sum(rate({cost_sel}[{m.window}]))", denominator_metric=contract.INFERENCES,
                    denominator_record="ml:inferences:rate", op=">", threshold=thr,
                    summary=f"Cost per inference of {ctx.who()} is above {number(thr)} {cur}",
                    description=f"Accrued cost divided by inferences over {m.window} exceeds "
                                f"{number(thr)} {cur}.",
                    bad=series(thr * 2, rate), good=series(thr / 2, rate), low=series(thr * 2, low),
                    currency=cur)
