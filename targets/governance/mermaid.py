"""Mermaid flowcharts of the training DAG and of the rollout plan, built as lines from the plan.

Ids come from `MermaidIds` (spec names contain `-`, which Mermaid reads as part of an edge); every
label goes through `mermaid_label`. Nothing from the spec reaches a diagram any other way.
"""

from __future__ import annotations

from itertools import pairwise

from compiler.language.units import format_duration
from compiler.planning.plan import GatePlan, Plan, StagePlan
from targets.governance.escape import MermaidIds, mermaid_label


def _number(value: float) -> str:
    return f"{value:g}"


def gate_rule(gate: GatePlan, words: bool = False) -> str:
    """`auc >= 0.92, >= baseline - 0.005`: the gate as one readable rule (`at least` with words=True)."""
    at_least, at_most = ("at least", "at most") if words else (">=", "<=")
    parts = []
    if gate.min is not None:
        parts.append(f"{at_least} {_number(gate.min)}")
    if gate.max is not None:
        parts.append(f"{at_most} {_number(gate.max)}")
    if gate.baseline:
        tolerance = f"{_number(gate.tolerance * 100)}%" if gate.tolerance_relative else _number(gate.tolerance)
        sign = "-" if gate.direction == "higher" else "+"
        relation = at_least if gate.direction == "higher" else at_most
        parts.append(f"{relation} baseline {sign} {tolerance}")
    joiner = " and " if words else ", "
    return f"{gate.metric} " + joiner.join(parts) if parts else gate.metric


def training_dag(plan: Plan) -> list[str]:
    ids = MermaidIds()
    pipeline = plan.pipeline
    lines = ["flowchart TD"]
    data = ids("data", plan.data.dataset)
    lines.append(f"  {data}[({mermaid_label(f'{plan.data.dataset} {plan.data.version} ({plan.data.hash})')})]")
    for step in pipeline.steps:
        lines.append(f"  {ids('step', step.name)}[{mermaid_label(step.name)}]")
    edges: list[str] = []
    for step in pipeline.steps:
        if not step.after:
            edges.append(f"  {data} --> {ids('step', step.name)}")
        edges.extend(f"  {ids('step', before)} --> {ids('step', step.name)}" for before in step.after)
    last = ids("step", pipeline.evaluation_step)
    register = ids("register", plan.name)
    lines.append(f"  {register}[[{mermaid_label(f'register {plan.name} v{plan.model.version} at {plan.model.uri}')}]]")
    if plan.gates:
        gate = ids("gate", "evaluation")
        rules = ", ".join(gate_rule(g, words=True) for g in plan.gates)
        lines.append(f"  {gate}{{{mermaid_label(f'gates: {rules}')}}}")
        lines.append(f"  {ids('stop', 'rejected')}([{mermaid_label('rejected: not registered')}])")
        edges.append(f"  {last} --> {gate}")
        edges.append(f"  {gate} -->|{mermaid_label('all pass')}| {register}")
        edges.append(f"  {gate} -.->|{mermaid_label('any fails')}| {ids('stop', 'rejected')}")
    else:
        edges.append(f"  {last} --> {register}")
    return lines + edges


def _stage_label(stage: StagePlan) -> str:
    hold = f" for {format_duration(stage.duration_seconds * 1000)}" if stage.duration_seconds else ""
    if stage.kind == "shadow":
        return f"shadow: {_number(stage.mirror)}% mirrored, 0% served{hold}"
    if stage.kind == "canary":
        return f"canary: {_number(stage.traffic)}% of traffic{hold}"
    return "full: 100% of traffic"


def rollout_plan(plan: Plan) -> list[str]:
    """Top-down, so it fits a narrow page (GitHub shows Markdown about 880 px wide): environments in
    promotion order, the rollout's stages as one vertical chain with the stage as the only node label,
    the advance condition said once (on the first step), and one rollback edge from the whole
    environment instead of one from every stage."""
    ids = MermaidIds()
    rollout = plan.rollout
    lines = ["flowchart TD"]
    edges: list[str] = []
    previous: str | None = None
    for env in plan.serving.environments:
        env_id = ids("env", env.name)
        title = f"{env.name} (namespace {env.namespace})"
        first = last = env_id
        if rollout is not None and rollout.environment == env.name:
            quiet = ", ".join(rollout.advance_when_quiet) or "no alert"
            lines.append(f"  subgraph {env_id}[{mermaid_label(title)}]")
            stage_ids = [ids("stage", s.name) for s in rollout.stages]
            for stage, stage_id in zip(rollout.stages, stage_ids, strict=True):
                lines.append(f"    {stage_id}[{mermaid_label(_stage_label(stage))}]")
            lines.append("  end")
            for index, (before, after) in enumerate(pairwise(stage_ids)):
                label = f"|{mermaid_label(f'each step when quiet: {quiet}')}|" if index == 0 else ""
                edges.append(f"  {before} -->{label} {after}")
            first, last = stage_ids[0], stage_ids[-1]
            rollback = ids("rollback", plan.name)
            # The previous URI is in the card's rollback section; here it would widen the whole diagram.
            target = (f"roll back to v{plan.model.previous_version}"
                      if plan.model.previous_version else "roll back: remove the new version")
            lines.append(f"  {rollback}[/{mermaid_label(target)}/]")
            trigger = ", ".join(rollout.rollback_on) or "manual"
            edges.append(f"  {env_id} -.->|{mermaid_label(f'fires: {trigger}')}| {rollback}")
        else:
            lines.append(f"  {env_id}[{mermaid_label(title)}]")
        entry = first
        if env.approval_required:
            approval = ids("approval", env.name)
            lines.append(f"  {approval}{{{mermaid_label(f'human approval for {env.name}')}}}")
            if previous is not None:
                edges.append(f"  {previous} --> {approval}")
            edges.append(f"  {approval} -->|{mermaid_label('approved')}| {entry}")
        elif previous is not None:
            edges.append(f"  {previous} --> {entry}")
        previous = last
    return lines + edges
