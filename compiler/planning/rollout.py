"""The rollout's plan: its stages (shadow, canary steps, full) in the rollout's environment, and the live
stage the deployment repository records (ActiveStage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compiler.language.spec import Spec
from compiler.language.units import duration_seconds
from compiler.planning.quick_init import quick_init

StageKind = Literal["shadow", "canary", "full"]


@quick_init
@dataclass(frozen=True, slots=True)
class StagePlan:
    name: str  # shadow | canary-5 | canary-25 | full
    kind: StageKind
    traffic: float  # percent of live traffic the new version serves
    mirror: float  # percent of traffic mirrored to the shadow (shadow stage only)
    duration_seconds: int | None  # how long to hold before advancing; None for full


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class ActiveStage:
    """One environment's entry of the rollout state: the stage live for `version` of the model."""

    version: str
    stage: str


def rollout_plan(spec: Spec) -> RolloutPlan | None:
    rollout = spec.rollout
    if rollout is None or spec.serving.pattern not in ("realtime", "streaming"):
        return None
    stages: list[StagePlan] = []
    if rollout.shadow is not None:
        stages.append(StagePlan("shadow", "shadow", 0.0, float(rollout.shadow.mirror),
                                duration_seconds(rollout.shadow.duration)))
    for step in rollout.canary:
        label = f"{step.traffic:g}".replace(".", "-")
        stages.append(StagePlan(f"canary-{label}", "canary", float(step.traffic), 0.0, duration_seconds(step.duration)))
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
