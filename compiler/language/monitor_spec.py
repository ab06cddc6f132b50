"""The spec's `monitors:` section: one model per monitor kind (discriminated by `kind`), their common
fields (window, for, severity, routing, runbook, per-environment overrides) and each kind's own.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from compiler.language.value_types import Duration, MetricName, Name, Percent, Strict, Text, check_value

# --- monitors ---------------------------------------------------------------------------------

Severity = Literal["critical", "warning", "info"]
DriftMethod = Literal["psi", "ks", "js", "wasserstein", "chi2"]


class MonitorOverride(Strict):
    """One environment's tuning of a monitor; unset keys keep the monitor's own values."""

    threshold: float | str | None = Field(
        None, description="In the monitor kind's own form: a duration for latency, a percent for rates.")
    severity: Severity | None = None
    window: Duration | None = None
    for_: Duration | None = Field(None, alias="for")
    min: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Throughput floor here; setting it applies the floor even at minReplicas 0.")
    max: Annotated[float, Field(gt=0)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class MonitorBase(Strict):
    name: Name
    window: Duration | None = Field(None, description="Evaluation window; a default fits each kind.")
    for_: Duration | None = Field(None, alias="for", description="How long the condition must hold before firing.")
    severity: Severity | None = Field(
        None, description="Alert severity; default `defaults.severity` in mlspec.yaml (itself default warning).")
    owner: Text | None = Field(None, description="Route to this owner's email or a team; default the model's team.")
    runbook: Text | None = Field(None, description="Runbook URL (required for critical alerts).")
    retrain: bool = Field(False, description="Firing triggers the retraining pipeline.")
    description: Text | None = None
    environments: list[Name] | None = Field(
        None, description="Environments the monitor watches; default all. Outside production a critical "
                          "monitor alerts as warning unless overridden.")
    overrides: dict[Name, MonitorOverride] = Field(
        default_factory=dict, description="Per-environment threshold, severity, window, for, min/max.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False,
                              defer_build=True)


class DataDrift(MonitorBase):
    kind: Literal["data_drift"]
    features: list[str] = Field(default_factory=list, description="Features to watch; default all.")
    method: DriftMethod = "psi"
    threshold: Annotated[float, Field(gt=0)]
    share: Annotated[float, Field(gt=0, le=1)] | None = Field(None, description="Alert when this share drifts.")


class PredictionDrift(MonitorBase):
    kind: Literal["prediction_drift"]
    method: DriftMethod = "psi"
    threshold: Annotated[float, Field(gt=0)]


class ConceptDrift(MonitorBase):
    kind: Literal["concept_drift"]
    metric: MetricName = Field(description="Quality metric computed from delayed labels.")
    threshold: float = Field(description="Floor: alert when the metric falls below it.")
    labelDelay: Duration = "24h"


class Latency(MonitorBase):
    kind: Literal["latency"]
    quantile: Annotated[float, Field(gt=0, lt=1)] = 0.99
    threshold: Duration


Failures = Literal["runtime", "exporter"]
_FAILURES = ("Who counts failed requests: the serving runtime, or the predictor through the exporter "
             "contract's ml_inference_errors_total (docs/metrics.md). Default: targets.prometheus.inferenceErrors.")


class ErrorRate(MonitorBase):
    kind: Literal["error_rate"]
    threshold: Percent
    failures: Failures | None = Field(None, description=_FAILURES)


class Throughput(MonitorBase):
    kind: Literal["throughput"]
    min: Annotated[float, Field(ge=0)] | None = Field(None, description="Requests per second floor.")
    max: Annotated[float, Field(gt=0)] | None = Field(None, description="Requests per second ceiling.")


class Fairness(MonitorBase):
    kind: Literal["fairness"]
    metric: Literal["demographic_parity_difference", "equal_opportunity_difference", "disparate_impact"] = (
        "demographic_parity_difference")
    attribute: Text = Field(description="Protected attribute the groups are split by.")
    threshold: float


class Cost(MonitorBase):
    kind: Literal["cost"]
    threshold: Annotated[float, Field(gt=0)] = Field(description="Maximum cost per inference.")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"


class Slo(MonitorBase):
    kind: Literal["slo"]
    sli: Literal["availability", "latency"] = "availability"
    objective: Annotated[float, Field(gt=0, lt=100)] = Field(description="Target in percent, e.g. 99.9.")
    period: Duration = "30d"
    latency: Duration | None = Field(None, description="For a latency SLI: requests faster than this are good.")
    failures: Failures | None = Field(None, description=_FAILURES)


class Hallucination(MonitorBase):
    kind: Literal["hallucination_rate"]
    threshold: Percent


class Grounding(MonitorBase):
    kind: Literal["grounding"]
    threshold: Annotated[float, Field(ge=0, le=1)] = Field(description="Alert when the mean score falls below.")


class TokenPrice(Strict):
    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]


class TokenCost(MonitorBase):
    kind: Literal["token_cost"]
    threshold: Annotated[float, Field(gt=0)] = Field(description="Maximum token cost per request.")
    maxPerDay: Annotated[float, Field(gt=0)] | None = Field(
        None, description="Maximum token cost of all requests over any 24 hours, in `currency`.")
    pricePer1kTokens: TokenPrice
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"

    @field_validator("maxPerDay")
    @classmethod
    def _day_holds_a_request(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A day's budget below one request's ceiling is a swapped or mistyped pair of numbers. `threshold`
        # is declared first, so it is validated (or missing) by now.
        request = info.data.get("threshold")
        if value is not None and isinstance(request, float | int):
            check_value(value >= request, "MLS710",
                   "maxPerDay {day} is smaller than the per-request threshold {request}: one request would "
                   "spend the day's budget; raise maxPerDay (cost over 24 hours) or lower threshold",
                   day=value, request=request)
        return value


Monitor = Annotated[
    DataDrift | PredictionDrift | ConceptDrift | Latency | ErrorRate | Throughput | Fairness | Cost | Slo
    | Hallucination | Grounding | TokenCost,
    Field(discriminator="kind"),
]
