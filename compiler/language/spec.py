"""The user-facing spec language, `apiVersion: mlspec/v1`, `kind: Model`.

Field names are the camelCase keys users write, so pydantic's error locations are already the
paths of the YAML file. Value checks that have a stable diagnostic code raise
`PydanticCustomError(<code>, ...)`; `compiler.validate` maps the error type back to that code.
Cross-field rules (references, cycles, risk-tier policy) live in `compiler.check.rules`, not here, so
that every rule reports all of its findings instead of stopping at the first.

The language is one definition (the JSON Schema export, the editor schema and the docs are generated
from `Spec`), kept in modules by section: the shared value types (`value_types`), `serving:` and
`rollout:` (`serving_spec`), `monitors:` (`monitor_spec`), `patches:` (`patch_spec`); this module holds
the other sections and `Spec`, and exports every section's types: the one import path for the rest.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Literal

from pydantic import Field

from compiler.language.monitor_spec import (
    ConceptDrift,
    Cost,
    DataDrift,
    DriftMethod,
    ErrorRate,
    Failures,
    Fairness,
    Grounding,
    Hallucination,
    Latency,
    Monitor,
    MonitorBase,
    MonitorOverride,
    PredictionDrift,
    Severity,
    Slo,
    Throughput,
    TokenCost,
    TokenPrice,
)
from compiler.language.patch_spec import Patch
from compiler.language.serving_spec import (
    Autoscaling,
    BatchScoring,
    CanaryStep,
    EdgeTarget,
    Environment,
    KafkaSasl,
    KafkaTls,
    KServeChoice,
    LlmServing,
    Pattern,
    Replicas,
    Rollout,
    Serving,
    Shadow,
    StreamSource,
)
from compiler.language.value_types import (
    Commit,
    Duration,
    Email,
    EnvName,
    Md5,
    MetricName,
    Name,
    Percent,
    Quantity,
    Resources,
    SecretRef,
    Sha256,
    Strict,
    Text,
    Traffic,
    WebUrl,
    check_duration,
    check_value,
)

# Every section's types, wherever defined: the rest of mlspec imports the language from here.
__all__ = [
    "API_VERSION",
    "Autoscaling",
    "Baseline",
    "BatchScoring",
    "CanaryStep",
    "CodePin",
    "Commit",
    "ConceptDrift",
    "Cost",
    "Data",
    "DataDrift",
    "DriftMethod",
    "Duration",
    "DvcPin",
    "EdgeTarget",
    "Email",
    "EnvFromSecret",
    "EnvName",
    "EnvValue",
    "Environment",
    "ErrorRate",
    "Failures",
    "Fairness",
    "Feature",
    "FeatureStore",
    "FeatureType",
    "FilePin",
    "Framework",
    "Gate",
    "GateKind",
    "Grounding",
    "Hallucination",
    "KServeChoice",
    "KafkaSasl",
    "KafkaTls",
    "Latency",
    "LlmServing",
    "Md5",
    "Metadata",
    "MetricName",
    "Model",
    "ModelCard",
    "Monitor",
    "MonitorBase",
    "MonitorOverride",
    "Name",
    "Owner",
    "Patch",
    "Pattern",
    "Percent",
    "Pipeline",
    "PredictionDrift",
    "PreviousModel",
    "PromptPin",
    "Quantity",
    "Replicas",
    "Resources",
    "Retraining",
    "Risk",
    "Role",
    "Rollout",
    "SecretRef",
    "Serving",
    "Severity",
    "Sha256",
    "Shadow",
    "Slo",
    "Spec",
    "Step",
    "StreamSource",
    "Strict",
    "Text",
    "Throughput",
    "TokenCost",
    "TokenPrice",
    "Toleration",
    "Traffic",
    "WebUrl",
    "check_duration",
    "check_value",
]

API_VERSION = "mlspec/v1"


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


class EnvFromSecret(Strict):
    secretRef: SecretRef


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
    env: dict[EnvName, EnvValue] = Field(
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
