"""The spec's `serving:` and `rollout:` sections: how a model is served in each environment (replicas,
resources, autoscaling; stream, batch, edge and LLM specifics) and how a new version reaches production
(shadow, canary steps, gates on monitors).
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Literal

from pydantic import Field

from compiler.language.value_types import Duration, Name, Resources, SecretRef, Strict, Text, Traffic

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
