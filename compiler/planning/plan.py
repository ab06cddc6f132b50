"""The plan: a frozen, fully defaulted, target-neutral description of one model.

Targets see only this. Every default is applied here, once: a target never looks at the spec, the
project file, or another target. Units are normalized (durations in seconds plus the Prometheus form,
percentages as ratios) so no target parses `150ms` or `1%` again.

Length: the plan's dataclasses and the one function that builds them from a spec stay together, so a
field and the default that fills it are read (and reviewed) in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from compiler import __version__
from compiler.language.patch_spec import Patch
from compiler.language.project import Project
from compiler.language.spec import (
    ConceptDrift,
    Cost,
    DataDrift,
    EnvFromSecret,
    ErrorRate,
    Fairness,
    Gate,
    Grounding,
    Hallucination,
    Latency,
    LlmServing,
    PredictionDrift,
    Resources,
    SecretRef,
    Slo,
    Spec,
    Step,
    StreamSource,
    Throughput,
    TokenCost,
)
from compiler.language.units import duration_ms, format_duration, percent
from compiler.planning.metric_direction import gate_direction, gate_kind

Pattern = Literal["batch", "realtime", "streaming", "edge"]
StageKind = Literal["shadow", "canary", "full"]

DEFAULT_GPU_TYPE = "nvidia.com/gpu"

# (window, for) defaults per monitor kind: long enough to be stable, short enough to matter.
MONITOR_DEFAULTS: dict[str, tuple[str, str]] = {
    "latency": ("5m", "10m"),
    "error_rate": ("5m", "10m"),
    "throughput": ("10m", "15m"),
    "data_drift": ("1h", "30m"),
    "prediction_drift": ("1h", "30m"),
    "concept_drift": ("1d", "1h"),
    "fairness": ("1d", "1h"),
    "cost": ("1h", "30m"),
    "slo": ("1h", "2m"),
    "hallucination_rate": ("1h", "30m"),
    "grounding": ("1h", "30m"),
    "token_cost": ("1h", "30m"),
}


@dataclass(frozen=True, slots=True)
class Provenance:
    spec_path: str  # posix path of the spec, relative to the spec repository root
    spec_digest: str  # sha256 of the spec's data (formatting and comments do not count)
    source_sha256: str  # sha256 of the spec file's bytes
    data_hash: str  # "md5:<32 hex>[.dir]" or "sha256:<64 hex>"
    code_repo: str
    code_commit: str
    model_version: str
    compiler_version: str


@dataclass(frozen=True, slots=True)
class OwnerPlan:
    name: str
    email: str
    roles: tuple[str, ...]
    github: str | None


@dataclass(frozen=True, slots=True)
class ModelCardPlan:
    intended_use: str | None
    limitations: str | None
    ethical_considerations: str | None
    out_of_scope_use: str | None
    training_data: str | None
    evaluation_data: str | None
    caveats: str | None


@dataclass(frozen=True, slots=True)
class FeaturePlan:
    name: str
    type: str
    min: float | None
    max: float | None
    allowed: tuple[str | int, ...] | None
    nullable: bool
    max_null_fraction: float | None


@dataclass(frozen=True, slots=True)
class DataPlan:
    dataset: str
    version: str
    pin_kind: Literal["dvc", "file"]
    location: str  # DVC path or file URI
    digest: str  # the md5 (with .dir) or sha256 value itself
    hash: str  # "md5:..." / "sha256:..."
    short_hash: str  # 8 hex digits for image tags and labels
    registry_repo: str | None
    registry_commit: str | None
    features: tuple[FeaturePlan, ...]
    feature_store: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class ModelPlan:
    framework: str
    version: str
    uri: str
    code_repo: str
    code_commit: str
    prompt_path: str | None
    prompt_sha256: str | None
    previous_version: str | None
    previous_uri: str | None
    runtime: str | None  # explicit runtime override; targets choose a default from the framework


@dataclass(frozen=True, slots=True)
class ResourcesPlan:
    cpu: str | None
    memory: str | None
    gpu: int
    gpu_type: str


@dataclass(frozen=True, slots=True)
class EnvVarPlan:
    name: str
    value: str | None  # literal value, or None for a secret reference
    secret_name: str | None
    secret_key: str | None


@dataclass(frozen=True, slots=True)
class TolerationPlan:
    key: str
    operator: str
    value: str | None
    effect: str | None


@dataclass(frozen=True, slots=True)
class StepPlan:
    name: str
    spec_index: int  # position in the spec's pipeline.steps (the plan orders steps topologically)
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvVarPlan, ...]
    after: tuple[str, ...]
    resources: ResourcesPlan
    retries: int
    cache: bool
    timeout_seconds: int | None
    metrics: tuple[str, ...]  # metrics the step outputs (the evaluation step outputs every gate metric)
    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[TolerationPlan, ...]


@dataclass(frozen=True, slots=True)
class RetrainingPlan:
    on_drift: bool
    on_data_change: bool
    cooldown_seconds: int
    monitors: tuple[str, ...]  # monitors whose firing starts a run


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    image: str
    schedule: str | None  # five-field cron, UTC
    steps: tuple[StepPlan, ...]  # topologically sorted, spec order among equals
    evaluation_step: str  # the step whose outputs the gates judge
    retraining: RetrainingPlan | None


@dataclass(frozen=True, slots=True)
class GatePlan:
    metric: str
    kind: str  # quality | latency | fairness | cost
    direction: str  # higher | lower
    min: float | None
    max: float | None
    baseline: bool  # also compare with the production model's value
    tolerance: float  # absolute, or a ratio when tolerance_relative
    tolerance_relative: bool


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


@dataclass(frozen=True, slots=True)
class SecretKeyPlan:
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class KafkaTlsPlan:
    ca_cert: SecretKeyPlan | None
    cert: SecretKeyPlan | None
    key: SecretKeyPlan | None


@dataclass(frozen=True, slots=True)
class KafkaSaslPlan:
    user: SecretKeyPlan
    password: SecretKeyPlan
    type: SecretKeyPlan | None


@dataclass(frozen=True, slots=True)
class StreamPlan:
    bootstrap_servers: tuple[str, ...]
    topic: str
    consumer_group: str
    output_topic: str | None = None  # where the scores go
    tls: KafkaTlsPlan | None = None
    sasl: KafkaSaslPlan | None = None


@dataclass(frozen=True, slots=True)
class LlmPlan:
    scheduler: bool  # the llm-d inference scheduler routes requests (prefix-cache aware)
    prefill_replicas: int | None  # disaggregated prefill/decode when set
    configs: tuple[str, ...]  # LLMInferenceServiceConfig presets (spec.baseRefs)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    schedule: str
    input: str
    output: str


@dataclass(frozen=True, slots=True)
class EdgePlan:
    format: str
    devices: tuple[str, ...]


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


@dataclass(frozen=True, slots=True)
class StagePlan:
    name: str  # shadow | canary-5 | canary-25 | full
    kind: StageKind
    traffic: float  # percent of live traffic the new version serves
    mirror: float  # percent of traffic mirrored to the shadow (shadow stage only)
    duration_seconds: int | None  # how long to hold before advancing; None for full


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    environment: str
    stages: tuple[StagePlan, ...]  # ends with "full"
    advance_when_quiet: tuple[str, ...]
    rollback_on: tuple[str, ...]
    manual_approval: bool
    min_requests: int
    # The live stage recorded in the deployment repository (compiler.ledger.state), filled in by
    # pipeline.run when rendering into one; None means the first stage. Deployment state, not spec: it
    # is not part of the plan digest, so advancing one model never changes another model's output.
    active_stage: str | None = None


@dataclass(frozen=True, slots=True)
class ActiveStage:
    """One environment's entry of the rollout state: the stage live for `version` of the model."""

    version: str
    stage: str


@dataclass(frozen=True, slots=True)
class MonitorPlan:
    name: str
    kind: str
    window: str  # Prometheus duration
    window_seconds: int
    for_: str
    severity: str
    team: str  # routing team
    owner_email: str | None
    runbook: str | None
    retrain: bool
    description: str | None
    # Kind-specific parameters, normalized. Unused ones are None.
    threshold: float | None = None  # ratio for rates, seconds for latency, score otherwise
    quantile: float | None = None
    features: tuple[str, ...] = ()
    method: str | None = None
    share: float | None = None
    metric: str | None = None
    attribute: str | None = None
    objective: float | None = None  # SLO objective as a ratio, e.g. 0.999
    period: str | None = None
    period_seconds: int | None = None
    sli: str | None = None
    latency_seconds: float | None = None  # SLO latency threshold
    min_rps: float | None = None
    max_rps: float | None = None
    label_delay_seconds: int | None = None
    currency: str | None = None
    price_input_per_1k: float | None = None
    price_output_per_1k: float | None = None
    failures: str | None = None  # runtime | exporter | None (the prometheus target's default)
    environments: tuple[str, ...] | None = None  # None: every environment
    overrides: tuple[tuple[str, MonitorOverridePlan], ...] = ()
    max_cost_per_day: float | None = None  # token_cost: budget over any 24 hours, in `currency`

    def override(self, environment: str) -> MonitorOverridePlan | None:
        return next((o for name, o in self.overrides if name == environment), None)


@dataclass(frozen=True, slots=True)
class MonitorOverridePlan:
    """One environment's tuning; `threshold` normalized like the monitor's (None: unset or invalid,
    `threshold_invalid` tells which; the prometheus target reports an invalid one)."""

    threshold: float | None = None
    threshold_invalid: bool = False
    severity: str | None = None
    window: str | None = None
    for_: str | None = None
    min_rps: float | None = None
    max_rps: float | None = None


def monitor_in(monitor: MonitorPlan, env: EnvironmentPlan) -> MonitorPlan | None:
    """`monitor` as it applies to `env`, or None when it does not watch `env`.

    Outside production (the rollout's environment, or one named production) a critical monitor alerts
    as warning: staging should not page anyone. A throughput floor is dropped where the environment
    may scale to zero (minReplicas 0), since it would fire for as long as nobody calls. An override for
    the environment wins over both.
    """
    if monitor.environments is not None and env.name not in monitor.environments:
        return None
    changes: dict[str, Any] = {}
    production = env.rollout or env.name == "production"
    if not production and monitor.severity == "critical":
        changes["severity"] = "warning"
    if monitor.kind == "throughput" and env.replicas_min == 0:
        changes["min_rps"] = None
    found = monitor.override(env.name)
    if found is not None:
        if found.threshold is not None:
            changes["threshold"] = found.threshold
        if found.severity is not None:
            changes["severity"] = found.severity
        if found.window is not None:
            changes["window"] = format_duration(duration_ms(found.window) or 0)
            changes["window_seconds"] = _seconds(found.window)
        if found.for_ is not None:
            changes["for_"] = found.for_
        if found.min_rps is not None:
            changes["min_rps"] = found.min_rps
        if found.max_rps is not None:
            changes["max_rps"] = found.max_rps
    return replace(monitor, **changes) if changes else monitor


@dataclass(frozen=True, slots=True)
class TeamPlan:
    name: str
    namespaces: tuple[str, ...]
    email: str | None
    slack: str | None


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    registry: str | None
    serving_stack: str
    teams: tuple[TeamPlan, ...]
    target_settings: Mapping[str, Mapping[str, Any]]  # validated by each target's own settings model


@dataclass(frozen=True, slots=True)
class PatchPlan:
    """A declared patch (compiler.language.patch_spec), applied to the rendered objects by compiler.render.patches."""

    index: int  # position in the spec's `patches:` list, for diagnostics and the manifest
    kind: str
    name: str
    environment: str | None
    stage: str | None
    merge: Mapping[str, Any] | None  # strategic-merge patch
    json: tuple[Mapping[str, Any], ...] | None  # RFC 6902 operations as written (`from`, not `from_`)
    origin: str = ""  # "" for the spec's own patches, "mlspec.yaml" for the project's


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    team: str
    risk: str
    description: str
    labels: tuple[tuple[str, str], ...]
    owners: tuple[OwnerPlan, ...]
    model_card: ModelCardPlan
    data: DataPlan
    model: ModelPlan
    pipeline: PipelinePlan
    gates: tuple[GatePlan, ...]
    serving: ServingPlan
    rollout: RolloutPlan | None
    monitors: tuple[MonitorPlan, ...]
    provenance: Provenance
    project: ProjectPlan
    # sha256 of the plan's inputs (spec data, project config, spec path, compiler version: plan_digest),
    # not of the fields above; filled in by build_plan.
    digest: str = ""
    patches: tuple[PatchPlan, ...] = ()

    def monitor(self, name: str) -> MonitorPlan:
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        raise KeyError(name)

    def environment(self, name: str) -> EnvironmentPlan:
        for env in self.serving.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    def step(self, name: str) -> StepPlan:
        for step in self.pipeline.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def settings(self, target: str) -> Mapping[str, Any]:
        return self.project.target_settings.get(target, {})

    @property
    def image_tag(self) -> str:
        """`mv12-d.ad12cb18-g.3f9c2e1`: model version, data hash, code commit (GUIDE §8)."""
        version = "".join(c if c.isalnum() or c in "._-" else "-" for c in self.model.version)
        return f"mv{version}-d.{self.data.short_hash}-g.{self.model.code_commit[:7]}"[:128]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not serializable: {type(value).__name__}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- building ---------------------------------------------------------------------------------


def _resources(*layers: Resources | None) -> ResourcesPlan:
    cpu = memory = gpu_type = None
    gpu = None
    for layer in layers:  # first non-empty value wins: most specific first
        if layer is None:
            continue
        cpu = cpu or layer.cpu
        memory = memory or layer.memory
        gpu = gpu if gpu is not None else layer.gpu
        gpu_type = gpu_type or layer.gpuType
    return ResourcesPlan(cpu=cpu, memory=memory, gpu=gpu or 0, gpu_type=gpu_type or DEFAULT_GPU_TYPE)


def topological(steps: list[Step]) -> list[Step]:
    """Kahn's algorithm, taking ready steps in spec order, so the order is stable and readable."""
    remaining = list(steps)
    done: set[str] = set()
    ordered: list[Step] = []
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.after)]
        if not ready:  # a cycle; rules report it, keep the rest in spec order
            ready = remaining[:1]
        step = ready[0]
        ordered.append(step)
        done.add(step.name)
        remaining.remove(step)
    return ordered


def _evaluation_step(steps: list[Step], gates: list[Gate]) -> str:
    wanted = {g.metric for g in gates}
    for step in steps:
        if wanted & set(step.metrics):
            return step.name
    for step in steps:
        if step.name == "evaluate":
            return step.name
    return steps[-1].name


def _seconds(text: str) -> int:
    ms = duration_ms(text)
    return (ms or 0) // 1000


def _gate(gate: Gate) -> GatePlan:
    tolerance = 0.0
    relative = False
    if gate.baseline is not None:
        raw = gate.baseline.tolerance
        if isinstance(raw, str):
            tolerance, relative = percent(raw) or 0.0, True
        else:
            tolerance = float(raw)
    return GatePlan(
        metric=gate.metric, kind=gate_kind(gate.metric, gate.kind), direction=gate_direction(gate) or "higher",
        min=gate.min, max=gate.max, baseline=gate.baseline is not None, tolerance=tolerance,
        tolerance_relative=relative,
    )


def _monitor(monitor: Any, spec: Spec, project: Project) -> MonitorPlan:
    default_window, default_for = MONITOR_DEFAULTS[monitor.kind]
    window = monitor.window or default_window
    owner_email = monitor.owner if monitor.owner and "@" in monitor.owner else None
    team = monitor.owner if monitor.owner and owner_email is None else spec.metadata.team
    runbook = monitor.runbook
    if runbook is None and project.defaults.runbookBase:
        runbook = f"{project.defaults.runbookBase.rstrip('/')}/{spec.metadata.name}/{monitor.name}"
    extra: dict[str, Any] = {}
    if isinstance(monitor, DataDrift):
        extra = {"threshold": monitor.threshold, "method": monitor.method, "share": monitor.share,
                 "features": tuple(monitor.features or [f.name for f in spec.data.features])}
    elif isinstance(monitor, PredictionDrift):
        extra = {"threshold": monitor.threshold, "method": monitor.method}
    elif isinstance(monitor, ConceptDrift):
        extra = {"threshold": monitor.threshold, "metric": monitor.metric,
                 "label_delay_seconds": _seconds(monitor.labelDelay)}
    elif isinstance(monitor, Latency):
        extra = {"threshold": (duration_ms(monitor.threshold) or 0) / 1000, "quantile": monitor.quantile}
    elif isinstance(monitor, ErrorRate | Hallucination):
        extra = {"threshold": percent(monitor.threshold)}
    elif isinstance(monitor, Throughput):
        extra = {"min_rps": monitor.min, "max_rps": monitor.max}
    elif isinstance(monitor, Fairness):
        extra = {"threshold": monitor.threshold, "metric": monitor.metric, "attribute": monitor.attribute}
    elif isinstance(monitor, Cost):
        extra = {"threshold": monitor.threshold, "currency": monitor.currency}
    elif isinstance(monitor, Slo):
        extra = {"objective": monitor.objective / 100, "period": monitor.period,
                 "period_seconds": _seconds(monitor.period), "sli": monitor.sli,
                 "latency_seconds": (duration_ms(monitor.latency) or 0) / 1000 if monitor.latency else None}
    elif isinstance(monitor, Grounding):
        extra = {"threshold": monitor.threshold}
    elif isinstance(monitor, TokenCost):
        extra = {"threshold": monitor.threshold, "currency": monitor.currency,
                 "price_input_per_1k": monitor.pricePer1kTokens.input,
                 "price_output_per_1k": monitor.pricePer1kTokens.output,
                 "max_cost_per_day": monitor.maxPerDay}
    if isinstance(monitor, ErrorRate | Slo):
        extra["failures"] = monitor.failures
    return MonitorPlan(
        name=monitor.name, kind=monitor.kind, window=format_duration(duration_ms(window) or 0),
        window_seconds=_seconds(window), for_=monitor.for_ or default_for, severity=monitor.severity,
        team=team, owner_email=owner_email, runbook=runbook, retrain=monitor.retrain,
        description=monitor.description,
        environments=tuple(monitor.environments) if monitor.environments is not None else None,
        overrides=tuple((env, _override(monitor.kind, o)) for env, o in sorted(monitor.overrides.items())),
        **extra,
    )


def _override(kind: str, override: Any) -> MonitorOverridePlan:
    threshold: float | None = None
    raw = override.threshold
    if raw is not None:
        if kind == "latency":
            ms = duration_ms(raw) if isinstance(raw, str) else None
            threshold = ms / 1000 if ms else None
        elif kind in ("error_rate", "hallucination_rate"):
            threshold = percent(raw)
        elif not isinstance(raw, str | bool):
            threshold = float(raw)
        # The monitor's own thresholds are positive except a quality floor or a fairness bound.
        if threshold is not None and threshold <= 0 and kind not in ("concept_drift", "fairness"):
            threshold = None
    return MonitorOverridePlan(
        threshold=threshold, threshold_invalid=raw is not None and threshold is None, severity=override.severity,
        window=override.window, for_=override.for_, min_rps=override.min, max_rps=override.max)


def _step(step: Step, spec: Spec, project: Project, evaluation: str, gate_metrics: tuple[str, ...]) -> StepPlan:
    index = next(i for i, s in enumerate(spec.pipeline.steps) if s is step)
    env = tuple(
        EnvVarPlan(name=k, value=None, secret_name=v.secretRef.name, secret_key=v.secretRef.key)
        if isinstance(v, EnvFromSecret) else EnvVarPlan(name=k, value=v, secret_name=None, secret_key=None)
        for k, v in sorted(step.env.items())
    )
    metrics = tuple(step.metrics)
    if step.name == evaluation:
        metrics = tuple(dict.fromkeys((*metrics, *gate_metrics)))
    return StepPlan(
        name=step.name, spec_index=index, image=step.image or spec.pipeline.image, command=tuple(step.command or ()),
        args=tuple(step.args or ()), env=env, after=tuple(step.after),
        resources=_resources(step.resources, project.defaults.trainingResources), retries=step.retries,
        cache=step.cache, timeout_seconds=_seconds(step.timeout) if step.timeout else None, metrics=metrics,
        node_selector=tuple(sorted(step.nodeSelector.items())),
        tolerations=tuple(TolerationPlan(t.key, t.operator, t.value, t.effect) for t in step.tolerations),
    )


def _rollout(spec: Spec) -> RolloutPlan | None:
    rollout = spec.rollout
    if rollout is None or spec.serving.pattern not in ("realtime", "streaming"):
        return None
    stages: list[StagePlan] = []
    if rollout.shadow is not None:
        stages.append(StagePlan("shadow", "shadow", 0.0, float(rollout.shadow.mirror),
                                _seconds(rollout.shadow.duration)))
    for step in rollout.canary:
        label = f"{step.traffic:g}".replace(".", "-")
        stages.append(StagePlan(f"canary-{label}", "canary", float(step.traffic), 0.0, _seconds(step.duration)))
    stages.append(StagePlan("full", "full", 100.0, 0.0, None))
    return RolloutPlan(
        environment=rollout_environment(spec), stages=tuple(stages),
        advance_when_quiet=tuple(rollout.advanceWhenQuiet), rollback_on=tuple(rollout.rollbackOn),
        manual_approval=bool(rollout.manualApproval) or spec.metadata.risk == "high",
        min_requests=rollout.minRequests,
    )


def rollout_environment(spec: Spec) -> str:
    envs = list(spec.serving.environments)
    if spec.rollout is not None and spec.rollout.environment in envs:
        return spec.rollout.environment
    return "production" if "production" in envs else envs[-1]


def build_plan(spec: Spec, project: Project, *, spec_path: str, source_sha256: str,
               spec_data: Mapping[str, Any]) -> Plan:
    """Normalize a valid spec (rules passed) under the project config into a Plan."""
    data = spec.data
    if data.dvc is not None:
        pin_kind: Literal["dvc", "file"] = "dvc"
        location, digest, hash_ = data.dvc.path, data.dvc.md5, f"md5:{data.dvc.md5}"
    else:
        assert data.file is not None  # rules guarantee exactly one pin
        pin_kind, location, digest, hash_ = "file", data.file.uri, data.file.sha256, f"sha256:{data.file.sha256}"
    data_plan = DataPlan(
        dataset=data.dataset, version=data.version, pin_kind=pin_kind, location=location, digest=digest,
        hash=hash_, short_hash=digest[:8], registry_repo=data.dvc.repo if data.dvc else None,
        registry_commit=data.dvc.commit if data.dvc else None,
        features=tuple(FeaturePlan(f.name, f.type, f.min, f.max, tuple(f.allowed) if f.allowed else None,
                                   f.nullable, f.maxNullFraction) for f in data.features),
        feature_store=data.featureStore.model_dump() if data.featureStore else None,
    )
    model = spec.model
    model_plan = ModelPlan(
        framework=model.framework, version=model.version, uri=model.uri, code_repo=model.code.repo,
        code_commit=model.code.commit, prompt_path=model.prompt.path if model.prompt else None,
        prompt_sha256=model.prompt.sha256 if model.prompt else None,
        previous_version=model.previous.version if model.previous else None,
        previous_uri=model.previous.uri if model.previous else None,
        runtime=model.runtime or spec.serving.runtime,
    )
    ordered = topological(list(spec.pipeline.steps))
    evaluation = _evaluation_step(ordered, list(spec.gates))
    gate_metrics = tuple(g.metric for g in spec.gates)
    retraining = spec.pipeline.retraining
    pipeline = PipelinePlan(
        image=spec.pipeline.image, schedule=spec.pipeline.schedule,
        steps=tuple(_step(s, spec, project, evaluation, gate_metrics) for s in ordered),
        evaluation_step=evaluation,
        retraining=RetrainingPlan(
            on_drift=retraining.onDrift, on_data_change=retraining.onDataChange,
            cooldown_seconds=_seconds(retraining.cooldown),
            monitors=tuple(m.name for m in spec.monitors if m.retrain and retraining.onDrift),
        ) if retraining else None,
    )
    serving = spec.serving
    rollout = _rollout(spec)
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
            resources=_resources(env.resources, serving.resources, defaults.resources),
            autoscaling_metric=scaling.metric, autoscaling_target=scaling.target, rollout=in_rollout,
            approval_required=name == production and approval,
        ))
    serving_plan = ServingPlan(
        pattern=serving.pattern, runtime=model_plan.runtime, protocol=serving.protocol,
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
    card = spec.modelCard
    card_plan = ModelCardPlan(
        intended_use=card.intendedUse if card else None, limitations=card.limitations if card else None,
        ethical_considerations=card.ethicalConsiderations if card else None,
        out_of_scope_use=card.outOfScopeUse if card else None,
        training_data=card.trainingData if card else None,
        evaluation_data=card.evaluationData if card else None, caveats=card.caveats if card else None,
    )
    project_plan = ProjectPlan(
        registry=project.registry, serving_stack=project.servingStack,
        teams=tuple(TeamPlan(n, tuple(t.namespaces), t.email, t.slack) for n, t in sorted(project.teams.items())),
        target_settings={name: project.target_settings(name) for name in sorted(project.targets)},
    )
    spec_digest = sha256_text(canonical_json(spec_data))
    return Plan(
        name=spec.metadata.name, team=spec.metadata.team, risk=spec.metadata.risk,
        description=spec.metadata.description, labels=tuple(sorted(spec.metadata.labels.items())),
        owners=tuple(OwnerPlan(o.name, o.email, tuple(o.roles), o.github) for o in spec.owners),
        model_card=card_plan, data=data_plan, model=model_plan, pipeline=pipeline,
        gates=tuple(_gate(g) for g in spec.gates), serving=serving_plan, rollout=rollout,
        monitors=tuple(_monitor(m, spec, project) for m in spec.monitors),
        provenance=Provenance(
            spec_path=spec_path, spec_digest=spec_digest,
            source_sha256=source_sha256, data_hash=hash_, code_repo=model.code.repo,
            code_commit=model.code.commit, model_version=model.version, compiler_version=__version__,
        ),
        project=project_plan,
        digest=plan_digest(spec_digest, project, spec_path),
        patches=(*_patches(project.patches, spec.metadata.name, "mlspec.yaml"),
                 *_patches(spec.patches, spec.metadata.name, "")),
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


def _patches(patches: Sequence[Patch], model: str, origin: str) -> tuple[PatchPlan, ...]:
    return tuple(PatchPlan(
        i, p.target.kind, p.target.name or model, p.target.environment, p.target.stage, p.merge,
        tuple(op.model_dump(by_alias=True, exclude_unset=True) for op in p.json_) if p.json_ else None, origin)
        for i, p in enumerate(patches))


_PROJECT_DIGESTS: dict[int, tuple[Project, str]] = {}


def plan_digest(spec_digest: str, project: Project, spec_path: str) -> str:
    """The digest of everything a plan is a function of: the spec's data (so formatting and comments do
    not count), the project config, the spec's path and the compiler version.

    Hashing the inputs rather than the built plan keeps lint fast (a deep asdict of every plan cost
    0.6 s per 1,000 specs) and gives the same answer, since the plan is a pure function of them.
    """
    cached = _PROJECT_DIGESTS.get(id(project))
    if cached is None or cached[0] is not project:
        # scrapeInterval only tunes lint warnings; no plan depends on it, so it stays out of the digest.
        # An empty `patches:` stays out too, so declaring none keeps every digest it had before patches existed.
        exclude = {"scrapeInterval"} if project.patches else {"scrapeInterval", "patches"}
        cached = (project, sha256_text(canonical_json(project.model_dump(mode="json", exclude=exclude))))
        _PROJECT_DIGESTS[id(project)] = cached
    return sha256_text(canonical_json([spec_digest, cached[1], spec_path, __version__]))
