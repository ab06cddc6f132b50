"""The user-facing spec language, `apiVersion: mlspec/v1`, `kind: Model`.

Field names are the camelCase keys users write, so pydantic's error locations are already the
paths of the YAML file. Value checks that have a stable diagnostic code raise
`PydanticCustomError(<code>, ...)`; `compiler.validate` maps the error type back to that code.
Cross-field rules (references, cycles, risk-tier policy) live in `compiler.check.rules`, not here, so
that every rule reports all of its findings instead of stopping at the first.

Length: one module on purpose. It is the language's single definition (the JSON Schema export, the
editor schema and the docs are generated from it), read top to bottom like a reference; splitting it
by section would scatter the shared field types every section uses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from compiler.language import units
from compiler.language.patch_spec import Patch

API_VERSION = "mlspec/v1"


def _check(pattern_ok: bool, code: str, message: str, **ctx: object) -> None:
    # pydantic fills `{name}` placeholders only (no format specs), so values arrive pre-quoted.
    if not pattern_ok:
        raise PydanticCustomError(code, message, {k: repr(v) for k, v in ctx.items()})


def _name(value: str) -> str:
    _check(units.is_dns_label(value), "MLS223",
           "{value} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters, "
           "starting and ending with a letter or digit)", value=value)
    return value


def check_duration(value: str) -> str:
    _check(units.duration_ms(value) is not None, "MLS205",
           "{value} is not a duration such as 30s, 5m, 1h30m or 7d", value=value)
    return value


def _percent(value: float | str) -> float | str:
    _check(units.percent(value) is not None, "MLS105",
           "{value} is not a percentage: write it as `1%` or as a ratio between 0 and 1", value=value)
    return value


def _md5(value: str) -> str:
    _check(bool(units.MD5_RE.fullmatch(value)), "MLS222",
           "{value} is not a DVC md5: 32 lowercase hex digits, with `.dir` for a directory", value=value)
    return value


def _sha256(value: str) -> str:
    _check(bool(units.SHA256_RE.fullmatch(value)), "MLS222", "{value} is not a sha256: 64 lowercase hex digits",
           value=value)
    return value


def _commit(value: str) -> str:
    _check(bool(units.COMMIT_RE.fullmatch(value)), "MLS222",
           "{value} is not a full git commit: 40 lowercase hex digits (a branch or tag can move)", value=value)
    return value


def _email(value: str) -> str:
    _check(bool(units.EMAIL_RE.fullmatch(value)), "MLS105", "{value} is not an email address", value=value)
    return value


def _quantity(value: str) -> str:
    _check(bool(units.QUANTITY_RE.fullmatch(value)), "MLS105",
           "{value} is not a Kubernetes quantity such as 500m, 2, 512Mi or 16Gi", value=value)
    return value


def _env_name(value: str) -> str:
    _check(bool(units.ENV_NAME_RE.fullmatch(value)), "MLS105",
           "{value} is not an environment variable name", value=value)
    return value


def _metric(value: str) -> str:
    _check(bool(units.METRIC_NAME_RE.fullmatch(value)), "MLS105",
           "{value} is not a metric name: letters, digits and '_', not starting with a digit", value=value)
    return value


def _web_url(value: str) -> str:
    _check(units.is_web_url(value), "MLS241", "{value} is not an http(s) URL", value=value)
    return value


Name = Annotated[str, AfterValidator(_name)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
Duration = Annotated[str, AfterValidator(check_duration), Field(json_schema_extra={"examples": ["30s", "5m", "1h30m"]})]
Percent = Annotated[float | str, AfterValidator(_percent)]
Md5 = Annotated[str, AfterValidator(_md5)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Commit = Annotated[str, AfterValidator(_commit)]
Email = Annotated[str, AfterValidator(_email)]
Quantity = Annotated[str, AfterValidator(_quantity)]
MetricName = Annotated[str, AfterValidator(_metric)]
Traffic = Annotated[float, Field(gt=0, le=100, description="Percent of traffic, (0, 100].")]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]


class Strict(BaseModel):
    # NaN and infinities are numbers to YAML (.nan, .inf) but thresholds to no one: NaN compares false
    # with everything, so a NaN gate would pass or fail silently, and no manifest can hold one.
    # defer_build: the validators are built on first use, once, for the whole Spec; built per class at
    # import, they were ~30 ms of every CLI start, lint of one spec included (issue 14, cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


# --- identity, owners, governance -------------------------------------------------------------

Risk = Literal["minimal", "limited", "high", "unacceptable"]
Role = Literal["owner", "approver", "oncall", "reviewer"]


class Metadata(Strict):
    name: Name = Field(description="Model name: a DNS-1123 label; names every rendered object.")
    team: Name = Field(description="Owning team; mlspec.yaml may restrict the namespaces a team deploys to.")
    risk: Risk = Field(description="EU AI Act risk tier. `unacceptable` is refused; `high` adds requirements.")
    description: Text = Field(description="One or two sentences on what the model does.")
    labels: dict[Name, Annotated[str, Field(max_length=63)]] = Field(
        default_factory=dict, description="Extra labels copied onto rendered objects.")


class Owner(Strict):
    name: Text
    email: Email
    roles: list[Role] = Field(min_length=1, description="owner, approver (may approve production), oncall, reviewer.")
    github: Annotated[str, Field(pattern=r"^@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$")] | None = Field(
        None, description="GitHub user or team handle for CODEOWNERS and environment reviewers, e.g. @acme/risk.")


class ModelCard(Strict):
    intendedUse: Text | None = None
    limitations: Text | None = None
    ethicalConsiderations: Text | None = None
    outOfScopeUse: Text | None = None
    trainingData: Text | None = None
    evaluationData: Text | None = None
    caveats: Text | None = None


# --- data -------------------------------------------------------------------------------------

FeatureType = Literal["float", "int", "bool", "category", "string", "text", "embedding", "timestamp"]


class Feature(Strict):
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
    type: FeatureType
    min: float | None = None
    max: float | None = None
    allowed: list[str | int] | None = Field(None, description="Allowed values of a categorical feature.")
    nullable: bool = False
    maxNullFraction: Annotated[float, Field(ge=0, le=1)] | None = None


class DvcPin(Strict):
    path: Text = Field(description="Path tracked by DVC in the data repository.")
    md5: Md5 = Field(description="The md5 from the .dvc file; `.dir` suffix for a directory.")
    repo: Text | None = Field(None, description="Data registry repository (DVC import source).")
    commit: Commit | None = Field(None, description="Data registry commit the md5 was taken at.")


class FilePin(Strict):
    uri: Text
    sha256: Sha256


class FeatureStore(Strict):
    provider: Literal["feast", "tecton", "hopsworks", "vertex", "sagemaker", "databricks"]
    project: Text
    service: Text = Field(description="Feature service or feature view the model reads.")


class Data(Strict):
    dataset: Text
    version: Text
    dvc: DvcPin | None = None
    file: FilePin | None = None
    features: list[Feature] = Field(default_factory=list)
    featureStore: FeatureStore | None = None


# --- model ------------------------------------------------------------------------------------

Framework = Literal["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "huggingface", "custom"]


class CodePin(Strict):
    repo: Text
    commit: Commit


class PromptPin(Strict):
    path: Text = Field(description="Prompt template file in the code repository.")
    sha256: Sha256


class PreviousModel(Strict):
    version: Text
    uri: Text


class Model(Strict):
    framework: Framework
    version: Text = Field(description="Immutable registry version; `latest` or stage aliases are refused.")
    uri: Text = Field(description="Storage URI of exactly this version (s3://, gs://, pvc://, hf://, oci://).")
    code: CodePin
    prompt: PromptPin | None = Field(None, description="LLM applications: the prompt file, pinned by hash.")
    previous: PreviousModel | None = Field(
        None, description="The version in production now: the rollback target and the canary's other side.")
    runtime: Text | None = Field(None, description="Override the serving runtime chosen from the framework.")


# --- pipeline ---------------------------------------------------------------------------------


class SecretRef(Strict):
    name: Name
    key: Annotated[str, Field(min_length=1, max_length=253)]


class EnvFromSecret(Strict):
    secretRef: SecretRef


class Resources(Strict):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: Annotated[int, Field(ge=0, le=16)] | None = None
    gpuType: Text | None = Field(None, description="Accelerator type, e.g. nvidia.com/gpu.")


class Toleration(Strict):
    key: Text
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


EnvValue = str | EnvFromSecret


class Step(Strict):
    name: Name
    image: Text | None = Field(None, description="Defaults to pipeline.image.")
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[Annotated[str, AfterValidator(_env_name)], EnvValue] = Field(
        default_factory=dict, description="Literal values, or {secretRef: {name, key}} for secrets.")
    after: list[Name] = Field(default_factory=list, description="Steps that must finish first.")
    resources: Resources | None = None
    retries: Annotated[int, Field(ge=0, le=10)] = 0
    cache: bool = True
    timeout: Duration | None = None
    metrics: list[MetricName] = Field(default_factory=list, description="Metrics this step outputs (for gates).")
    nodeSelector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)


class Retraining(Strict):
    onDrift: bool = Field(True, description="Monitors with `retrain: true` start a training run.")
    onDataChange: bool = Field(False, description="A new data version starts a training run.")
    cooldown: Duration = Field("24h", description="Minimum time between triggered runs.")


class Pipeline(Strict):
    image: Text
    schedule: Text | None = Field(None, description="Five-field cron (minute hour day month weekday), UTC.")
    steps: list[Step] = Field(min_length=1)
    retraining: Retraining | None = None


# --- gates ------------------------------------------------------------------------------------

GateKind = Literal["quality", "latency", "fairness", "cost"]


class Baseline(Strict):
    tolerance: float | str = Field(
        0, description="How far the candidate may fall behind production: absolute (0.005) or relative (`1%`).")


class Gate(Strict):
    metric: MetricName
    kind: GateKind | None = Field(None, description="Inferred from the metric name when omitted.")
    min: float | None = None
    max: float | None = None
    direction: Literal["higher", "lower"] | None = Field(
        None, description="Which way is better; needed only for baseline-only gates on unknown metrics.")
    baseline: Baseline | None = Field(None, description="Compare with the production model's value.")


# --- serving ----------------------------------------------------------------------------------


class Replicas(Strict):
    min: Annotated[int, Field(ge=0, le=1000)]
    max: Annotated[int, Field(ge=1, le=1000)]


class Autoscaling(Strict):
    # cpu by default: it works in both KServe deployment modes (Standard scales with an HPA, which
    # knows only cpu and memory); concurrency and rps need Knative.
    metric: Literal["cpu", "memory", "concurrency", "rps"] = "cpu"
    target: Annotated[int, Field(ge=1)] = Field(
        80, description="cpu/memory: utilization percent; concurrency: in-flight requests per replica; "
                        "rps: requests per second per replica.")


class Environment(Strict):
    namespace: Name
    replicas: Replicas | None = None
    resources: Resources | None = None
    autoscaling: Autoscaling | None = None


class KafkaTls(Strict):
    """TLS to the brokers; every certificate is a Secret key reference, never a value."""

    caCert: SecretRef | None = Field(
        None, description="CA certificate (PEM) the brokers' certificates are checked against.")
    cert: SecretRef | None = Field(None, description="Client certificate (PEM), for mutual TLS; needs `key`.")
    key: SecretRef | None = Field(None, description="Client private key (PEM), for mutual TLS; needs `cert`.")


class KafkaSasl(Strict):
    """SASL authentication; Knative reads the mechanism from a Secret key as well (PLAIN, SCRAM-SHA-256,
    SCRAM-SHA-512)."""

    user: SecretRef
    password: SecretRef
    type: SecretRef | None = Field(None, description="Secret key holding the mechanism; Knative defaults to PLAIN.")


class StreamSource(Strict):
    kind: Literal["kafka"] = "kafka"
    bootstrapServers: list[Text] = Field(min_length=1)
    topic: Text
    consumerGroup: Text | None = None
    outputTopic: Text | None = Field(None, description="Topic the scores are published to (a KafkaSink).")
    tls: KafkaTls | None = None
    sasl: KafkaSasl | None = None


class BatchScoring(Strict):
    schedule: Text = Field(description="Five-field cron for scoring runs.")
    input: Text
    output: Text


class EdgeTarget(Strict):
    format: Literal["onnx", "tflite", "coreml", "torchscript"]
    devices: list[Text] = Field(default_factory=list)


Pattern = Literal["batch", "realtime", "streaming", "edge"]


class KServeChoice(Strict):
    """This model's own choice of the project-wide `targets.kserve` settings (mlspec.yaml stays the
    default), so one repository can hold a Standard-mode model next to a Knative-mode one."""

    version: Annotated[str, Field(pattern=r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$")] | None = Field(
        None, description="KServe version of the cluster this model is served on, major.minor[.patch].")
    mode: Literal["Standard", "Knative"] | None = Field(None, description="serving.kserve.io/deploymentMode.")
    mirroring: Literal["istio", "gateway-api"] | None = Field(
        None, description="How shadow traffic is mirrored: Istio VirtualService or Gateway API HTTPRoute.")


class LlmServing(Strict):
    """KServe's LLMInferenceService (serving.kserve.io/v1alpha2, vLLM behind the llm-d scheduler)."""

    scheduler: bool = Field(
        True, description="Route through the llm-d inference scheduler (prefix-cache and load aware).")
    prefillReplicas: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Disaggregated prefill/decode: this many prefill pods besides the decode pods.")
    configs: list[Name] = Field(
        default_factory=list, description="LLMInferenceServiceConfig presets to build on (spec.baseRefs).")


class Serving(Strict):
    pattern: Pattern
    kind: Literal["inferenceservice", "llm"] = Field(
        "inferenceservice", description="`llm`: serve on KServe's LLMInferenceService (huggingface models).")
    kserve: KServeChoice | None = Field(None, description="Override targets.kserve for this model.")
    llm: LlmServing | None = Field(None, description="LLMInferenceService options (kind: llm).")
    runtime: Text | None = None
    protocol: Literal["v1", "v2", "grpc-v2"] | None = None
    resources: Resources | None = None
    autoscaling: Autoscaling | None = None
    payloadLogging: bool | None = Field(None, description="Log requests and responses; default on for high risk.")
    environments: dict[Name, Environment] = Field(min_length=1)
    stream: StreamSource | None = None
    batch: BatchScoring | None = None
    edge: EdgeTarget | None = None


# --- rollout ----------------------------------------------------------------------------------


class Shadow(Strict):
    duration: Duration
    mirror: Traffic = 100


class CanaryStep(Strict):
    traffic: Traffic
    duration: Duration


class Rollout(Strict):
    environment: Name | None = Field(None, description="Environment the rollout applies to (default production).")
    shadow: Shadow | None = None
    canary: list[CanaryStep] = Field(default_factory=list)
    advanceWhenQuiet: list[Name] = Field(default_factory=list, description="Monitors that must be quiet to advance.")
    rollbackOn: list[Name] = Field(default_factory=list, description="Monitors whose firing rolls back.")
    manualApproval: bool | None = Field(None, description="Require a human to approve production (forced for high).")
    minRequests: Annotated[int, Field(ge=1)] = Field(100, description="Traffic needed before a gate may pass.")


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
    severity: Severity = "warning"
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
            _check(value >= request, "MLS710",
                   "maxPerDay {day} is smaller than the per-request threshold {request}: one request would "
                   "spend the day's budget; raise maxPerDay (cost over 24 hours) or lower threshold",
                   day=value, request=request)
        return value


Monitor = Annotated[
    DataDrift | PredictionDrift | ConceptDrift | Latency | ErrorRate | Throughput | Fairness | Cost | Slo
    | Hallucination | Grounding | TokenCost,
    Field(discriminator="kind"),
]


class Spec(Strict):
    """One model: what it trains on, how it is trained, gated, served, rolled out and watched."""

    apiVersion: Literal["mlspec/v1"]
    kind: Literal["Model"]
    metadata: Metadata
    owners: list[Owner] = Field(min_length=1)
    modelCard: ModelCard | None = None
    data: Data
    model: Model
    pipeline: Pipeline
    gates: list[Gate] = Field(default_factory=list)
    serving: Serving
    rollout: Rollout | None = None
    monitors: list[Monitor] = Field(default_factory=list)
    patches: list[Patch] = Field(default_factory=list,
                                 description="Declared patches to rendered objects (docs/patches.md).")
