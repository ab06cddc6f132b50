"""The training pipeline's plan: steps in run order with their resources, retraining, and the evaluation
gates judged on the step that outputs their metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compiler.language.project import Project
from compiler.language.spec import EnvFromSecret, Gate, Resources, Spec, Step
from compiler.language.units import duration_seconds, percent
from compiler.planning.metric_direction import gate_direction, gate_kind
from compiler.planning.quick_init import quick_init
from compiler.planning.resources import ResourcesPlan, resources_plan


@quick_init
@dataclass(frozen=True, slots=True)
class EnvVarPlan:
    name: str
    value: str | None  # literal value, or None for a secret reference
    secret_name: str | None
    secret_key: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class TolerationPlan:
    key: str
    operator: str
    value: str | None
    effect: str | None


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class RetrainingPlan:
    on_drift: bool
    on_data_change: bool
    cooldown_seconds: int
    monitors: tuple[str, ...]  # monitors whose firing starts a run


@quick_init
@dataclass(frozen=True, slots=True)
class PipelinePlan:
    image: str
    schedule: str | None  # five-field cron, UTC
    steps: tuple[StepPlan, ...]  # topologically sorted, spec order among equals
    evaluation_step: str  # the step whose outputs the gates judge
    retraining: RetrainingPlan | None


@quick_init
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


def in_written_order(steps: Sequence[Step]) -> bool:
    """Each step runs only after steps written above it (the usual spec): the written order is then a
    topological one, and no cycle runs through steps with distinct names (compiler.check.rules.step_graph)."""
    written: set[str] = set()
    for step in steps:
        if not written.issuperset(step.after):
            return False
        written.add(step.name)
    return True


def topological(steps: list[Step]) -> list[Step]:
    """Kahn's algorithm, taking ready steps in spec order, so the order is stable and readable. In written
    order the first step left is always ready: the order is the spec's, found without testing every
    remaining step each round."""
    return list(steps) if in_written_order(steps) else kahn_order(steps)


def kahn_order(steps: list[Step]) -> list[Step]:
    """Kahn's algorithm, testing every remaining step each round: `topological`'s general case."""
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


def gate_plan(gate: Gate) -> GatePlan:
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


def _step(step: Step, index: int, image: str, training: Resources, default: ResourcesPlan, evaluation: str,
          gate_metrics: tuple[str, ...]) -> StepPlan:
    """`default`: the plan of the project's training resources alone, for a step that sets none."""
    env = tuple(
        EnvVarPlan(name=k, value=None, secret_name=v.secretRef.name, secret_key=v.secretRef.key)
        if isinstance(v, EnvFromSecret) else EnvVarPlan(name=k, value=v, secret_name=None, secret_key=None)
        for k, v in sorted(step.env.items())
    ) if step.env else ()
    metrics = tuple(step.metrics)
    if step.name == evaluation:
        metrics = tuple(dict.fromkeys((*metrics, *gate_metrics)))
    return StepPlan(
        name=step.name, spec_index=index, image=step.image or image, command=tuple(step.command or ()),
        args=tuple(step.args or ()), env=env, after=tuple(step.after),
        resources=resources_plan(step.resources, training) if step.resources is not None else default,
        retries=step.retries, cache=step.cache,
        timeout_seconds=duration_seconds(step.timeout) if step.timeout else None, metrics=metrics,
        node_selector=tuple(sorted(step.nodeSelector.items())) if step.nodeSelector else (),
        tolerations=tuple(TolerationPlan(t.key, t.operator, t.value, t.effect) for t in step.tolerations)
        if step.tolerations else (),
    )


def pipeline_plan(spec: Spec, project: Project) -> PipelinePlan:
    steps = spec.pipeline.steps
    ordered = topological(list(steps))
    evaluation = _evaluation_step(ordered, list(spec.gates))
    gate_metrics = tuple(g.metric for g in spec.gates)
    retraining = spec.pipeline.retraining
    # Each step's position in the spec (StepPlan.spec_index), and the project's training resources
    # planned once: the steps that set none share that (immutable) plan.
    index: dict[int, int] = {}
    for i, s in enumerate(steps):
        index.setdefault(id(s), i)  # the first, should one object be listed twice
    training = project.defaults.trainingResources
    default = resources_plan(training)
    return PipelinePlan(
        image=spec.pipeline.image, schedule=spec.pipeline.schedule,
        steps=tuple(_step(s, index[id(s)], spec.pipeline.image, training, default, evaluation, gate_metrics)
                    for s in ordered),
        evaluation_step=evaluation,
        retraining=RetrainingPlan(
            on_drift=retraining.onDrift, on_data_change=retraining.onDataChange,
            cooldown_seconds=duration_seconds(retraining.cooldown),
            monitors=tuple(m.name for m in spec.monitors if m.retrain and retraining.onDrift),
        ) if retraining else None,
    )
