"""`data_drift` and `prediction_drift`: the drift job's scores (exporter contract) above a threshold.

Data drift alerts per feature and, with `share`, once that share of the features drifted; the
drift job's staleness alerts are staleness.py's.
"""

from __future__ import annotations

import math

from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number, selector
from targets.prometheus.ruleset import Group, Scenario, Series, gauge


def data_drift(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.method is not None
    features = list(m.features)
    scores = selector(contract.FEATURE_DRIFT, {**ctx.identity, "method": m.method}, {"feature": features})
    thr = m.threshold
    eval_s = ctx.eval_after(m.for_)

    def series(value: float) -> tuple[Series, ...]:
        return tuple(Series(ctx.id_selector(contract.FEATURE_DRIFT, feature=f, method=m.method or ""),
                            gauge(value, eval_s)) for f in features)

    drifted = series(thr * 2)
    calm = series(thr / 2)
    per_feature = tuple({"feature": f} for f in features)
    ctx.alert(group, m, "Feature", f"max by (feature) ({scores}) > {number(thr)}",
              f'Feature {{{{ $labels.feature }}}} of {ctx.who()} drifted ({m.method} above {number(thr)})',
              f"The {m.method} drift score of the feature exceeds {number(thr)}.",
              [Scenario("fires", drifted, eval_s, per_feature), Scenario("healthy", calm, eval_s, ())],
              severity="info" if m.share is not None else None,
              retrain=False if m.share is not None else None)
    if m.share is not None:
        share = ctx.record(group, "ml:feature_drift:share",
                           f"(count({scores} > {number(thr)}) or vector(0)) / {len(features)}",
                           monitor=m.name)
        needed = math.ceil(m.share * len(features))
        some = tuple(Series(x.series, gauge(thr * 2 if i < needed else thr / 2, eval_s))
                     for i, x in enumerate(drifted))
        few = tuple(Series(x.series, gauge(thr * 2 if i < needed - 1 else thr / 2, eval_s))
                    for i, x in enumerate(drifted))
        ctx.alert(group, m, "Share", f"{share} >= {number(m.share)}",
                  f"{number(m.share * 100)}% or more of the features of {ctx.who()} drifted",
                  f"At least {needed} of {len(features)} watched features have a {m.method} drift score "
                  f"above {number(thr)}.",
                  [Scenario("fires", some, eval_s, ({},)), Scenario("healthy", few, eval_s, ())])


def prediction_drift(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.method is not None
    sel = ctx.id_selector(contract.PREDICTION_DRIFT, method=m.method)
    eval_s = ctx.eval_after(m.for_)
    ctx.alert(group, m, "", f"max({sel}) > {number(m.threshold)}",
              f"Predictions of {ctx.who()} drifted ({m.method} above {number(m.threshold)})",
              f"The {m.method} drift score of the prediction distribution exceeds {number(m.threshold)}.",
              [Scenario("fires", (Series(sel, gauge(m.threshold * 2, eval_s)),), eval_s, ({},)),
               Scenario("healthy", (Series(sel, gauge(m.threshold / 2, eval_s)),), eval_s, ())])
