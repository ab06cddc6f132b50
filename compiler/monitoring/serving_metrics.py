"""What a model's serving runtime really exports to Prometheus: the core metric contract per stack.

The prometheus target's rules, the rollout gate's traffic check and `mlspec verify` all read live
traffic through a `Stack`, so the three can never disagree on a series name. Each stack answers: how
many requests, how many failed (if the runtime counts failures at all), the latency histogram (its
unit and its bucket bounds), and the labels that pick one model out. Every name below is cited in
docs/metrics.md with the upstream file it comes from; the KServe Python server's names are proven
against the real server in tests/test_behaviour.py.

Which stack a model gets: a runtime that is not KServe's Python server decides it (the
huggingfaceserver's LLM path exports vLLM's series, Triton its own); otherwise the project's
`servingStack`, where `knative` means OpenCensus names up to Knative 1.18 and OpenTelemetry names from
1.19 (`targets.prometheus.knativeVersion`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from compiler.monitoring.promql import number, quote, quote_meta, raw_selector
from compiler.planning import serving_names

# prometheus_client's default buckets (prometheus_client/metrics.py, Histogram.DEFAULT_BUCKETS): the
# KServe Python server declares its histograms without buckets, so it gets these.
PYTHON_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# vllm/v1/metrics/loggers.py, `request_latency_buckets` of vllm:e2e_request_latency_seconds.
VLLM_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                    240.0, 480.0, 960.0, 1920.0, 7680.0)
# OpenTelemetry semantic conventions' advice for http.server.request.duration (Knative >= 1.19).
OTEL_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# The exporter contract's failure counter (docs/metrics.md) for runtimes that count no failures.
CONTRACT_ERRORS = "ml_inference_errors_total"


def escaped(metric: str) -> str:
    """`metric` as Prometheus 2.x stores it from prometheus_client: prometheus_client (0.26,
    prometheus_client/openmetrics/exposition.py `generate_latest`) escapes OpenMetrics sample names with
    the label-name character set unless the scraper sends `escaping=allow-utf-8`, which Prometheus 2.x
    does not (3.x does, and keeps the name). So `vllm:x` is scraped as `vllm_x` (docs/metrics.md)."""
    return metric.replace(":", "_")


def series_selector(metric: str, matchers: Mapping[str, str], regex: Mapping[str, str] | None = None) -> str:
    """The selector every consumer reads `metric` with. A name with a colon is matched in both spellings
    (`{__name__=~"vllm:x|vllm_x", ...}`), as Prometheus 3.x and 2.x store it; others are plain
    `metric{...}`. Wrapped in `rate`/`increase`, the name is dropped either way (and `le` kept)."""
    if ":" not in metric:
        return raw_selector(metric, matchers, dict(regex or {}))
    parts = [f"__name__=~{quote(quote_meta(metric) + '|' + quote_meta(escaped(metric)))}"]
    parts += [f"{name}={quote(value)}" for name, value in matchers.items()]
    parts += [f"{name}=~{quote(value)}" for name, value in (regex or {}).items()]
    return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True, slots=True)
class Histogram:
    bucket_metric: str
    count_metric: str
    unit_seconds: float  # one unit of `le` in seconds
    buckets: tuple[float, ...] | None  # finite bounds in seconds; None: not fixed by the runtime


@dataclass(frozen=True, slots=True)
class Stack:
    name: str
    what: str  # for messages: "the KServe Python model server"
    requests_metric: str | None  # counter of all requests (or successes, see requests_are_successes)
    errors_metric: str | None  # counter of failed requests; None: the runtime counts no failures
    errors_extra: tuple[tuple[str, str], ...]  # regex matchers that pick failures out of errors_metric
    requests_are_successes: bool  # requests_metric counts successes only: add errors back
    latency: Histogram | None  # None: no latency histogram (only sums, or nothing)
    model_label: str
    namespace_label: str
    model_suffix: str = ""  # the stack names the model's workload <name><suffix>
    latency_by_pod: bool = False  # the histogram has no model label: select the model's pods
    # The failure counter is the exporter contract's, initialised at 0 by the predictor: its absence
    # is a broken exporter, not "no failures" (the rules alert on it instead of reading 0%).
    errors_from_contract: bool = False
    # (prompt, generated) token counters labelled like the requests; None: the runtime counts no tokens.
    tokens: tuple[str, str] | None = None

    def matchers(self, model: str, namespace: str) -> dict[str, str]:
        return {self.namespace_label: namespace, self.model_label: model + self.model_suffix}

    def errors_selector(self, model: str, namespace: str) -> str | None:
        if self.errors_metric is None:
            return None
        return series_selector(self.errors_metric, self.matchers(model, namespace), dict(self.errors_extra))

    def requests(self, model: str, namespace: str, window: str, pods: str | None = None) -> str:
        """Requests per second; `pods`: only those of pods matching this RE2 regex."""
        if self.requests_metric is None:
            raise ValueError(f"{self.what} exports no request counter")
        matched = series_selector(self.requests_metric, self.matchers(model, namespace), {"pod": pods} if pods else {})
        total = f"sum(rate({matched}[{window}]))"
        if self.requests_are_successes:
            return f"({total} + ({self.errors(model, namespace, window)}))"
        return total

    def errors(self, model: str, namespace: str, window: str) -> str:
        sel = self.errors_selector(model, namespace)
        if sel is None:
            raise ValueError(f"{self.what} exports no failure counter")
        if self.errors_from_contract:
            # No series means a broken exporter: stay empty (a separate alert reports it), never 0%.
            return f"sum(rate({sel}[{window}]))"
        # A runtime's own failure series appear with the first failure (a 5xx response class, a
        # labelled counter's first increment): until then the honest value is zero.
        return f"(sum(rate({sel}[{window}])) or vector(0))"

    def latency_selector(self, metric: str, model: str, namespace: str, le: list[str] | None = None) -> str:
        """`metric` (bucket or count) of the model's latency histogram, optionally at bucket bounds `le`."""
        if self.latency_by_pod:
            match = {self.namespace_label: namespace}
            regex = {"pod": quote_meta(model) + "-predictor-.+"}
        else:
            match, regex = self.matchers(model, namespace), {}
        if le is not None:
            regex["le"] = "|".join(quote_meta(v) for v in le)
        return series_selector(metric, match, regex)

    def le_values(self, seconds: float) -> list[str]:
        """How exporters spell a bucket bound: Go `150`, Python `150.0`; both are matched."""
        assert self.latency is not None
        value = seconds / self.latency.unit_seconds
        go = number(value)
        python = go if "." in go else go + ".0"
        return sorted({go, python})

    def bucket_near(self, seconds: float) -> tuple[float | None, float | None]:
        """The bucket bounds (seconds) just below and just above `seconds`."""
        assert self.latency is not None
        assert self.latency.buckets is not None
        below = [b for b in self.latency.buckets if b < seconds]
        above = [b for b in self.latency.buckets if b > seconds]
        return (below[-1] if below else None, above[0] if above else None)

    def is_bucket(self, seconds: float) -> bool:
        if self.latency is None or self.latency.buckets is None:
            return True  # bounds not fixed by the runtime: nothing to check against
        return any(abs(b - seconds) < 1e-9 for b in self.latency.buckets)


_KSERVE_LATENCY = Histogram("request_predict_seconds_bucket", "request_predict_seconds_count", 1.0,
                            PYTHON_DEFAULT_BUCKETS)

STACKS: dict[str, Stack] = {s.name: s for s in (
    # kserve/kserve python/kserve/kserve/metrics.py: histograms labelled model_name only, no failures.
    Stack(name="kserve", what="the KServe Python model server",
          requests_metric="request_predict_seconds_count", errors_metric=None, errors_extra=(),
          requests_are_successes=False, latency=_KSERVE_LATENCY, model_label="model_name",
          namespace_label="namespace"),
    # huggingfaceserver's OpenAI path records no kserve histogram; its vLLM backend exports vllm:*
    # (vllm/v1/metrics/loggers.py): e2e latency histogram and finished requests, no failure counter;
    # prompt and generation token counters (Counter vllm:prompt_tokens / vllm:generation_tokens,
    # labels model_name and engine; prometheus_client adds `_total`).
    Stack(name="vllm", what="vLLM (the huggingfaceserver's LLM backend)",
          requests_metric="vllm:e2e_request_latency_seconds_count", errors_metric=None, errors_extra=(),
          requests_are_successes=False,
          latency=Histogram("vllm:e2e_request_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_count",
                            1.0, VLLM_E2E_BUCKETS),
          model_label="model_name", namespace_label="namespace",
          tokens=("vllm:prompt_tokens_total", "vllm:generation_tokens_total")),
    # triton-inference-server/core src/metrics.cc: success/failure counters labelled model and version;
    # durations are cumulative microsecond counters, not histograms.
    Stack(name="triton", what="Triton Inference Server",
          requests_metric="nv_inference_request_success", errors_metric="nv_inference_request_failure",
          errors_extra=(), requests_are_successes=True, latency=None, model_label="model",
          namespace_label="namespace"),
    # Knative Serving <= 1.18 queue-proxy (OpenCensus): latencies in milliseconds, failures by class.
    Stack(name="knative", what="Knative Serving's queue-proxy (<= 1.18, OpenCensus names)",
          requests_metric="revision_request_count", errors_metric="revision_request_count",
          errors_extra=(("response_code_class", "5xx"),), requests_are_successes=False,
          latency=Histogram("revision_request_latencies_bucket", "revision_request_latencies_count", 0.001, None),
          model_label="service_name", namespace_label="namespace_name", model_suffix="-predictor"),
    # Knative Serving >= 1.19 queue-proxy (OpenTelemetry http.server.request.duration, seconds).
    Stack(name="knative-otel", what="Knative Serving's queue-proxy (>= 1.19, OpenTelemetry names)",
          requests_metric="http_server_request_duration_seconds_count",
          errors_metric="http_server_request_duration_seconds_count",
          errors_extra=(("http_response_status_code", "5.."),), requests_are_successes=False,
          latency=Histogram("http_server_request_duration_seconds_bucket",
                            "http_server_request_duration_seconds_count", 1.0, OTEL_HTTP_BUCKETS),
          model_label="kn_service_name", namespace_label="k8s_namespace_name", model_suffix="-predictor"),
    # MLServer: success and failure counters labelled model; latency from the REST server histogram.
    Stack(name="mlserver", what="Seldon MLServer",
          requests_metric="model_infer_request_success_total", errors_metric="model_infer_request_failure_total",
          errors_extra=(), requests_are_successes=True,
          latency=Histogram("rest_server_request_duration_seconds_bucket",
                            "rest_server_request_duration_seconds_count", 1.0, None),
          model_label="model", namespace_label="namespace", latency_by_pod=True),
)}

# Runtimes that are not the KServe Python server: their own metrics decide the stack.
RUNTIME_STACKS = {"kserve-huggingfaceserver": "vllm", "kserve-tritonserver": "triton"}
# framework -> the runtime KServe picks when the spec names none (targets/kserve/runtimes.py).
DEFAULT_RUNTIMES = {"huggingface": "kserve-huggingfaceserver", "onnx": "kserve-tritonserver"}
KNATIVE_OTEL_SINCE = (1, 19)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.lstrip("v").split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def options(plan: Any) -> Mapping[str, Any]:
    """The prometheus target's settings as raw data: the target validates them, the core only reads
    the two keys that decide names (`knativeVersion`, `inferenceErrors`)."""
    raw = plan.project.target_settings.get("prometheus", {})
    return raw if isinstance(raw, Mapping) else {}


def runtime_of(plan: Any) -> str | None:
    return plan.serving.runtime or plan.model.runtime or DEFAULT_RUNTIMES.get(plan.model.framework)


def stack_name(plan: Any, settings: Mapping[str, Any] | None = None) -> str:
    opts = options(plan) if settings is None else settings
    runtime = runtime_of(plan)
    if runtime in RUNTIME_STACKS:
        return RUNTIME_STACKS[runtime]
    base = str(plan.project.serving_stack)
    if base == "knative" and _version(str(opts.get("knativeVersion", "1.18"))) >= KNATIVE_OTEL_SINCE:
        return "knative-otel"
    return base


def stack_for(plan: Any, settings: Mapping[str, Any] | None = None) -> Stack:
    """The stack whose series carry `plan`'s live traffic (`settings`: the prometheus target's). With
    `inferenceErrors: exporter`, a runtime that counts no failures gets the exporter contract's
    counter, labelled like its own series; so does a model one of whose monitors says
    `failures: exporter` (its predictor exports the counter, whichever monitor reads it)."""
    opts = options(plan) if settings is None else settings
    stack = STACKS[stack_name(plan, opts)]
    declared = opts.get("inferenceErrors") == "exporter" or any(
        getattr(m, "failures", None) == "exporter" for m in plan.monitors)
    if stack.errors_metric is None and declared:
        return _with_contract_errors(stack)
    return stack


@cache  # one per stack: built once, not for every spec (a check reads it per spec)
def _with_contract_errors(stack: Stack) -> Stack:
    return replace(stack, name=stack.name + "+errors", errors_metric=CONTRACT_ERRORS, errors_from_contract=True)


SHADOW_SUFFIX = serving_names.SHADOW_SUFFIX


def traffic_query(plan: Any, namespace: str, window: str, seconds: int, *, shadow: bool = False) -> str:
    """Requests served over `window` (`seconds` long): what the rollout gate counts. `shadow`: the
    mirrored copy's requests. The shadow serves the primary's model name (compiler.planning.serving_names: mirrored
    requests keep their path), so where a stack labels series by the served model name the shadow's
    pods tell them apart; where it labels them by workload (Knative's service), the shadow's own name."""
    stack = stack_for(plan)
    if not shadow:
        return f"{stack.requests(plan.name, namespace, window)} * {seconds}"
    if stack.model_suffix:
        return f"{stack.requests(serving_names.shadow_service_name(plan), namespace, window)} * {seconds}"
    return f"{stack.requests(plan.name, namespace, window, pods=serving_names.shadow_pod_regex(plan))} * {seconds}"


__all__ = [
    "CONTRACT_ERRORS",
    "SHADOW_SUFFIX",
    "STACKS",
    "Histogram",
    "Stack",
    "escaped",
    "series_selector",
    "stack_for",
    "stack_name",
    "traffic_query",
]
