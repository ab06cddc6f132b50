"""promtool input series in the serving stack's own metric names (compiler.monitoring.serving_metrics).

The live-traffic families (latency, errors, throughput, SLO) prove their alerts on the series the
model's runtime exports: requests split into successes and failures the way that stack counts them,
and latency histograms with the stack's bucket label values.
"""

from __future__ import annotations

from collections.abc import Mapping

from targets.prometheus.context import RuleContext
from targets.prometheus.promql import selector
from targets.prometheus.ruleset import Series, counter


def traffic(ctx: RuleContext, ok: float, failed: float, eval_s: int) -> list[Series]:
    """Series of `ok` successful and `failed` failed requests per second, in the stack's names."""
    s, name, ns = ctx.stack, ctx.plan.name, ctx.env.namespace
    match = s.matchers(name, ns)
    out: list[Series] = []
    assert s.requests_metric is not None
    if s.errors_extra:  # one family, failures picked by a status label (Knative)
        label = s.errors_extra[0][0]
        ok_value, failed_value = ("2xx", "5xx") if label == "response_code_class" else ("200", "500")
        out.append(Series(selector(s.requests_metric, {**match, label: ok_value}), counter(ok, eval_s)))
        if failed:
            out.append(Series(selector(s.requests_metric, {**match, label: failed_value}),
                              counter(failed, eval_s)))
    elif s.requests_are_successes:
        assert s.errors_metric is not None
        out.append(Series(selector(s.requests_metric, match), counter(ok, eval_s)))
        if failed:
            out.append(Series(selector(s.errors_metric, match), counter(failed, eval_s)))
    else:
        out.append(Series(selector(s.requests_metric, match), counter(ok + failed, eval_s)))
        if s.errors_metric is not None and (failed or s.errors_from_contract):
            # The contract's counter is exported from start-up, at 0 until the first failure.
            out.append(Series(selector(s.errors_metric, match), counter(failed, eval_s)))
    return out


def latency(ctx: RuleContext, buckets: Mapping[float, float], total: float, eval_s: int) -> list[Series]:
    """Histogram series: `buckets` maps a bound in seconds to the requests per second at or below it."""
    s = ctx.stack
    lat = s.latency
    assert lat is not None
    out = []
    pod = {"pod": f"{ctx.plan.name}-predictor-7d9f8"} if s.latency_by_pod else {}
    base = {**(s.matchers(ctx.plan.name, ctx.env.namespace) if not s.latency_by_pod
               else {s.namespace_label: ctx.env.namespace}), **pod}
    for bound, rate in sorted(buckets.items()):
        le = s.le_values(bound)[0]
        out.append(Series(selector(lat.bucket_metric, {**base, "le": le}), counter(rate, eval_s)))
    out.append(Series(selector(lat.bucket_metric, {**base, "le": "+Inf"}), counter(total, eval_s)))
    if lat.count_metric != s.requests_metric or s.latency_by_pod:
        out.append(Series(selector(lat.count_metric, base), counter(total, eval_s)))
    return out
