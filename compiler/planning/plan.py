"""The plan: a frozen, fully defaulted, target-neutral description of one model.

Targets see only this. Every default is applied here, once: a target never looks at the spec, the
project file, or another target. Units are normalized (durations in seconds plus the Prometheus form,
percentages as ratios) so no target parses `150ms` or `1%` again.

Each section's plan lives beside the function that builds it from the spec, so a field and the
default that fills it are read (and reviewed) in one place: `training` (steps, retraining, gates),
`serving` (environments, stream, batch, edge, LLM), `rollout` (stages), `monitors` and `resources`.
This module holds the Plan itself, the identity and provenance sections, `build_plan`, which calls
the others, and the plan digest; it exports every section's types, the one import path for targets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from compiler import __version__
from compiler.language.patch_spec import Patch
from compiler.language.project import Project
from compiler.language.spec import Spec
from compiler.per_object import per_object
from compiler.planning.monitors import MONITOR_DEFAULTS, MonitorOverridePlan, MonitorPlan, monitor_in, monitor_plan
from compiler.planning.quick_init import quick_init
from compiler.planning.resources import DEFAULT_GPU_TYPE, ResourcesPlan
from compiler.planning.rollout import ActiveStage, RolloutPlan, StageKind, StagePlan, rollout_environment, rollout_plan
from compiler.planning.serving import (
    BatchPlan,
    EdgePlan,
    EnvironmentPlan,
    KafkaSaslPlan,
    KafkaTlsPlan,
    LlmPlan,
    Pattern,
    SecretKeyPlan,
    ServingPlan,
    StreamPlan,
    serving_plan,
)
from compiler.planning.training import (
    EnvVarPlan,
    GatePlan,
    PipelinePlan,
    RetrainingPlan,
    StepPlan,
    TolerationPlan,
    gate_plan,
    pipeline_plan,
    topological,
)

# The plan's types, wherever each section's are defined: targets import them all from here.
__all__ = [
    "DEFAULT_GPU_TYPE", "MONITOR_DEFAULTS", "ActiveStage", "BatchPlan", "DataPlan", "EdgePlan", "EnvVarPlan",
    "EnvironmentPlan", "FeaturePlan", "GatePlan", "KafkaSaslPlan", "KafkaTlsPlan", "LlmPlan", "ModelCardPlan",
    "ModelPlan", "MonitorOverridePlan", "MonitorPlan", "OwnerPlan", "PatchPlan", "Pattern", "PipelinePlan", "Plan",
    "ProjectPlan", "Provenance", "ResourcesPlan", "RetrainingPlan", "RolloutPlan", "SecretKeyPlan", "ServingPlan",
    "StageKind", "StagePlan", "StepPlan", "StreamPlan", "TeamPlan", "TolerationPlan", "build_plan", "canonical_json",
    "monitor_in", "plan_digest", "rollout_environment", "sha256_text", "topological",
]


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class OwnerPlan:
    name: str
    email: str
    roles: tuple[str, ...]
    github: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class ModelCardPlan:
    intended_use: str | None
    limitations: str | None
    ethical_considerations: str | None
    out_of_scope_use: str | None
    training_data: str | None
    evaluation_data: str | None
    caveats: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class FeaturePlan:
    name: str
    type: str
    min: float | None
    max: float | None
    allowed: tuple[str | int, ...] | None
    nullable: bool
    max_null_fraction: float | None


@quick_init
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


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class TeamPlan:
    name: str
    namespaces: tuple[str, ...]
    email: str | None
    slack: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class ProjectPlan:
    registry: str | None
    serving_stack: str
    teams: tuple[TeamPlan, ...]
    target_settings: Mapping[str, Mapping[str, Any]]  # validated by each target's own settings model


@quick_init
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


@quick_init
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


def build_plan(spec: Spec, project: Project, *, spec_path: str, source_sha256: str,
               spec_data: Mapping[str, Any], digests: bool = True) -> Plan:
    """Normalize a valid spec (rules passed) under the project config into a Plan.

    `digests=False` leaves the plan's digest and its provenance's spec_digest empty: for a lint that only
    checks the plan and drops it (compiler.pipeline), hashing the spec's canonical JSON was a quarter of
    building it. No target's check reads either; rendered files and caches do, so they never see such a plan.
    """
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
        features=tuple([FeaturePlan(f.name, f.type, f.min, f.max, tuple(f.allowed) if f.allowed else None,
                                    f.nullable, f.maxNullFraction) for f in data.features]),
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
    pipeline = pipeline_plan(spec, project)
    rollout = rollout_plan(spec)
    serving = serving_plan(spec, project, rollout, model_plan.runtime)
    card = spec.modelCard
    card_plan = ModelCardPlan(
        intended_use=card.intendedUse if card else None, limitations=card.limitations if card else None,
        ethical_considerations=card.ethicalConsiderations if card else None,
        out_of_scope_use=card.outOfScopeUse if card else None,
        training_data=card.trainingData if card else None,
        evaluation_data=card.evaluationData if card else None, caveats=card.caveats if card else None,
    )
    spec_digest = sha256_text(canonical_json(spec_data)) if digests else ""
    return Plan(
        name=spec.metadata.name, team=spec.metadata.team, risk=spec.metadata.risk,
        description=spec.metadata.description, labels=tuple(sorted(spec.metadata.labels.items())),
        owners=tuple(OwnerPlan(o.name, o.email, tuple(o.roles), o.github) for o in spec.owners),
        model_card=card_plan, data=data_plan, model=model_plan, pipeline=pipeline,
        gates=tuple(gate_plan(g) for g in spec.gates), serving=serving, rollout=rollout,
        monitors=tuple([monitor_plan(m, spec, project) for m in spec.monitors]),
        provenance=Provenance(
            spec_path=spec_path, spec_digest=spec_digest,
            source_sha256=source_sha256, data_hash=hash_, code_repo=model.code.repo,
            code_commit=model.code.commit, model_version=model.version, compiler_version=__version__,
        ),
        project=_project_plan(project),
        digest=plan_digest(spec_digest, project, spec_path) if digests else "",
        patches=(*_patches(project.patches, spec.metadata.name, "mlspec.yaml"),
                 *_patches(spec.patches, spec.metadata.name, "")) if project.patches or spec.patches else (),
    )


@per_object
def _project_plan(project: Project) -> ProjectPlan:
    """The plan's project section: the same for every spec of a run (the project is frozen), so it is built
    once per project and shared by the plans, as plan_digest hashes the project once."""
    return ProjectPlan(
        registry=project.registry, serving_stack=project.servingStack,
        teams=tuple(TeamPlan(n, tuple(t.namespaces), t.email, t.slack) for n, t in sorted(project.teams.items())),
        target_settings={name: project.target_settings(name) for name in sorted(project.targets)},
    )


def _patches(patches: Sequence[Patch], model: str, origin: str) -> tuple[PatchPlan, ...]:
    return tuple(PatchPlan(
        i, p.target.kind, p.target.name or model, p.target.environment, p.target.stage, p.merge,
        tuple(op.model_dump(by_alias=True, exclude_unset=True) for op in p.json_) if p.json_ else None, origin)
        for i, p in enumerate(patches))


def plan_digest(spec_digest: str, project: Project, spec_path: str) -> str:
    """The digest of everything a plan is a function of: the spec's data (so formatting and comments do
    not count), the project config, the spec's path and the compiler version.

    Hashing the inputs rather than the built plan keeps lint fast (a deep asdict of every plan cost
    0.6 s per 1,000 specs) and gives the same answer, since the plan is a pure function of them.
    """
    return sha256_text(canonical_json([spec_digest, _project_digest(project), spec_path, __version__]))


@per_object
def _project_digest(project: Project) -> str:
    # scrapeInterval only tunes lint warnings; no plan depends on it, so it stays out of the digest.
    # An empty `patches:` stays out too, so declaring none keeps every digest it had before patches existed.
    exclude = {"scrapeInterval"} if project.patches else {"scrapeInterval", "patches"}
    return sha256_text(canonical_json(project.model_dump(mode="json", exclude=exclude)))
