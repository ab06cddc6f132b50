"""Which series a model's live traffic shows up in, per serving stack (docs/metrics.md, "Serving stacks").

A stack answers four questions for one model in one namespace: how many requests, how many failed,
the latency histogram (and its unit), and the label that carries the histogram bucket bound. The
queries select by namespace plus the stack's own model label, so two models never share a series.
"""

from __future__ import annotations

from dataclasses import dataclass

from targets.prometheus.promql import number, quote_meta, raw_selector, selector


@dataclass(frozen=True, slots=True)
class Stack:
    name: str
    requests_metric: str  # counter of all requests
    errors_metric: str  # counter of failed requests
    errors_extra: tuple[tuple[str, str], ...]  # extra matchers that pick failures out of errors_metric
    requests_are_successes: bool  # requests_metric counts successes only (MLServer): add errors back
    bucket_metric: str  # latency histogram buckets
    count_metric: str  # latency histogram count
    unit_seconds: float  # one unit of the histogram's `le` in seconds
    model_label: str
    namespace_label: str
    model_suffix: str = ""  # the stack names the model's workload <name><suffix>
    # The latency histogram has no model label (MLServer's REST server): select the model's pods.
    latency_by_pod: bool = False

    def matchers(self, model: str, namespace: str) -> dict[str, str]:
        return {self.namespace_label: namespace, self.model_label: model + self.model_suffix}

    def requests(self, model: str, namespace: str, window: str) -> str:
        match = self.matchers(model, namespace)
        total = f"sum(rate({selector(self.requests_metric, match)}[{window}]))"
        if self.requests_are_successes:
            return f"({total} + ({self.errors(model, namespace, window)}))"
        return total

    def errors(self, model: str, namespace: str, window: str) -> str:
        match = {**self.matchers(model, namespace), **dict(self.errors_extra)}
        # No failure yet means no series at all: count that as zero, not as "unknown".
        return f"(sum(rate({selector(self.errors_metric, match)}[{window}])) or vector(0))"

    def latency_selector(self, metric: str, model: str, namespace: str, le: list[str] | None = None) -> str:
        """`metric` (bucket or count) of the model's latency histogram, optionally at bucket bounds `le`."""
        if self.latency_by_pod:
            match = {self.namespace_label: namespace}
            regex = {"pod": quote_meta(model) + "-predictor-.+"}
        else:
            match, regex = self.matchers(model, namespace), {}
        if le is not None:
            regex["le"] = "|".join(quote_meta(v) for v in le)
        return raw_selector(metric, match, regex)

    def le_values(self, seconds: float) -> list[str]:
        """How exporters spell a bucket bound: Go `150`, Python `150.0`; both are matched."""
        value = seconds / self.unit_seconds
        go = number(value)
        python = go if "." in go else go + ".0"
        return sorted({go, python})



STACKS: dict[str, Stack] = {
    # KServe Python model server (kserve.metrics): histograms labelled model_name; it has no failure
    # counter, so the predictor exports ml_inference_errors_total with the same labels (docs/metrics.md).
    "kserve": Stack(
        name="kserve", requests_metric="request_predict_seconds_count",
        errors_metric="ml_inference_errors_total", errors_extra=(), requests_are_successes=False,
        bucket_metric="request_predict_seconds_bucket", count_metric="request_predict_seconds_count",
        unit_seconds=1.0, model_label="model_name", namespace_label="namespace",
    ),
    # Knative Serving queue-proxy: latencies in milliseconds, failures by response_code_class.
    "knative": Stack(
        name="knative", requests_metric="revision_request_count",
        errors_metric="revision_request_count", errors_extra=(("response_code_class", "5xx"),),
        requests_are_successes=False,
        bucket_metric="revision_request_latencies_bucket", count_metric="revision_request_latencies_count",
        unit_seconds=0.001, model_label="service_name", namespace_label="namespace_name",
        model_suffix="-predictor",
    ),
    # MLServer: success and failure counters labelled model. Its per-model duration is a Summary
    # without quantiles, so latency comes from the REST server histogram of the model's pods.
    "mlserver": Stack(
        name="mlserver", requests_metric="model_infer_request_success_total",
        errors_metric="model_infer_request_failure_total", errors_extra=(), requests_are_successes=True,
        bucket_metric="rest_server_request_duration_seconds_bucket",
        count_metric="rest_server_request_duration_seconds_count",
        unit_seconds=1.0, model_label="model", namespace_label="namespace", latency_by_pod=True,
    ),
}
