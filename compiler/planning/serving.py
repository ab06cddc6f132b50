"""The serving plan: the pattern, each environment's replicas, resources and autoscaling (the spec's,
else the serving section's, else the project defaults), and the stream, batch, edge or LLM specifics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compiler.language.project import Project
from compiler.language.spec import LlmServing, SecretRef, Spec, StreamSource
from compiler.planning.quick_init import quick_init
from compiler.planning.resources import ResourcesPlan, resources_plan
from compiler.planning.rollout import RolloutPlan, rollout_environment

Pattern = Literal["batch", "realtime", "streaming", "edge"]


@quick_init
@dataclass(frozen=True, slots=True)
class EnvironmentPlan:
    name: str
    namespace: str
    replicas_min: int
    replicas_max: int
    resources: ResourcesPlan
    autoscaling_metric: str
    autoscaling_target: int
    rollout: bool  # the rollout stages apply here; other environments go straight to "full"
    approval_required: bool


@quick_init
@dataclass(frozen=True, slots=True)
class SecretKeyPlan:
    name: str
    key: str


@quick_init
@dataclass(frozen=True, slots=True)
class KafkaTlsPlan:
    ca_cert: SecretKeyPlan | None
    cert: SecretKeyPlan | None
    key: SecretKeyPlan | None


@quick_init
@dataclass(frozen=True, slots=True)
class KafkaSaslPlan:
    user: SecretKeyPlan
    password: SecretKeyPlan
    type: SecretKeyPlan | None


@quick_init
@dataclass(frozen=True, slots=True)
class StreamPlan:
    bootstrap_servers: tuple[str, ...]
    topic: str
    consumer_group: str
    output_topic: str | None = None  # where the scores go
    tls: KafkaTlsPlan | None = None
    sasl: KafkaSaslPlan | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class LlmPlan:
    scheduler: bool  # the llm-d inference scheduler routes requests (prefix-cache aware)
    prefill_replicas: int | None  # disaggregated prefill/decode when set
    configs: tuple[str, ...]  # LLMInferenceServiceConfig presets (spec.baseRefs)


@quick_init
@dataclass(frozen=True, slots=True)
class BatchPlan:
    schedule: str
    input: str
    output: str


@quick_init
@dataclass(frozen=True, slots=True)
class EdgePlan:
    format: str
    devices: tuple[str, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class ServingPlan:
    pattern: Pattern
    runtime: str | None
    protocol: str | None
    payload_logging: bool
    environments: tuple[EnvironmentPlan, ...]  # in spec order (promotion order)
    stream: StreamPlan | None
    batch: BatchPlan | None
    edge: EdgePlan | None
    # `llm`: KServe's LLMInferenceService; `inferenceservice`: an InferenceService predictor.
    kind: Literal["inferenceservice", "llm"] = "inferenceservice"
    # The inference engine known from the plan alone: "vllm" for `llm` (LLMInferenceService runs vLLM,
    # whose own `vllm:*` series the monitors read); None when the target's runtime decides it.
    engine: str | None = None
    llm: LlmPlan | None = None
    # This model's overrides of the project's `targets.kserve` settings (version, mode, mirroring).
    kserve: tuple[tuple[str, str], ...] = ()


def serving_plan(spec: Spec, project: Project, rollout: RolloutPlan | None, runtime: str | None) -> ServingPlan:
    serving = spec.serving
    defaults = project.defaults
    production = rollout_environment(spec)
    approval = spec.metadata.risk == "high" or bool(spec.rollout and spec.rollout.manualApproval)
    envs = []
    for name, env in serving.environments.items():
        replicas = env.replicas or defaults.replicas
        scaling = env.autoscaling or serving.autoscaling or defaults.autoscaling
        in_rollout = rollout is not None and rollout.environment == name
        envs.append(EnvironmentPlan(
            name=name, namespace=env.namespace, replicas_min=replicas.min, replicas_max=replicas.max,
            resources=resources_plan(env.resources, serving.resources, defaults.resources),
            autoscaling_metric=scaling.metric, autoscaling_target=scaling.target, rollout=in_rollout,
            approval_required=name == production and approval,
        ))
    return ServingPlan(
        pattern=serving.pattern, runtime=runtime, protocol=serving.protocol,
        payload_logging=serving.payloadLogging if serving.payloadLogging is not None
        else spec.metadata.risk == "high",
        environments=tuple(envs),
        stream=_stream(serving.stream, spec.metadata.name) if serving.stream else None,
        batch=BatchPlan(serving.batch.schedule, serving.batch.input, serving.batch.output)
        if serving.batch else None,
        edge=EdgePlan(serving.edge.format, tuple(serving.edge.devices)) if serving.edge else None,
        kind=serving.kind,
        engine="vllm" if serving.kind == "llm" else None,
        llm=_llm(serving.llm) if serving.kind == "llm" or serving.llm is not None else None,
        kserve=tuple((k, v) for k, v in serving.kserve.model_dump(exclude_none=True).items())
        if serving.kserve else (),
    )


def _secret_key(ref: SecretRef | None) -> SecretKeyPlan | None:
    return SecretKeyPlan(ref.name, ref.key) if ref is not None else None


def _stream(stream: StreamSource, model: str) -> StreamPlan:
    tls = stream.tls
    sasl = stream.sasl
    return StreamPlan(
        tuple(stream.bootstrapServers), stream.topic, stream.consumerGroup or model,
        output_topic=stream.outputTopic,
        tls=KafkaTlsPlan(_secret_key(tls.caCert), _secret_key(tls.cert), _secret_key(tls.key)) if tls else None,
        sasl=KafkaSaslPlan(SecretKeyPlan(sasl.user.name, sasl.user.key),
                           SecretKeyPlan(sasl.password.name, sasl.password.key), _secret_key(sasl.type))
        if sasl else None)


def _llm(llm: LlmServing | None) -> LlmPlan:
    llm = llm or LlmServing()
    return LlmPlan(scheduler=llm.scheduler, prefill_replicas=llm.prefillReplicas, configs=tuple(llm.configs))
