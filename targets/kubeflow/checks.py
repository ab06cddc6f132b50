"""Plan checks for what kfp or the KFP backend would reject, or silently run wrong.

Paths point into the spec. Steps are addressed by their index in the plan, which equals the spec index
whenever every step is listed after the steps it depends on (the plan keeps spec order among equals).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Severity
from compiler.planning.plan import Plan, StepPlan
from targets.kubeflow import names
from targets.kubeflow.cron import kfp_cron

CODES: dict[str, str] = {
    "KFP001": "A step name collides with a task the kubeflow target adds (register-model, condition-gates).",
    "KFP002": "A gate metric is produced by a step other than the evaluation step the gates read.",
    "KFP003": "A step requests GPUs without a valid accelerator resource name (gpuType).",
    "KFP004": "A step has no command; the KFP launcher replaces the image entrypoint, so nothing would run.",
    "KFP005": "A KFP placeholder in a step argument names an input or output the task does not have.",
    "KFP006": "A toleration with operator Exists has a value; Kubernetes rejects the pod.",
    "KFP007": "Retraining on drift is on, but no monitor has retrain: true; drift never starts a run.",
    "KFP008": "A baseline gate without model.previous: the baseline run parameter has no production value.",
    "KFP009": "A schedule is not a five-field cron expression the CronJob and KFP forms can share.",
}

# `{{$.inputs.parameters['x']}}` / `{{$.outputs.parameters['x'].output_file}}` and any other `{{$...}}`.
_PLACEHOLDER = re.compile(r"\{\{\$([^}]*)\}\}")
_PARAM_REF = re.compile(r"\.(inputs|outputs)\.parameters\['([^']+)'\](\.output_file)?")
# A qualified Kubernetes extended-resource name: `vendor.example/resource`.
_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _step_path(i: int, *rest: str | int) -> tuple[str | int, ...]:
    return ("pipeline", "steps", i, *rest)


def check(plan: Plan) -> Iterator[Diagnostic]:
    steps = plan.pipeline.steps
    for step in steps:
        yield from _check_step(step.spec_index, step, plan)
    yield from _check_gates(plan)
    retraining = plan.pipeline.retraining
    if retraining is not None and retraining.on_drift and not retraining.monitors:
        yield Diagnostic(
            "KFP007", "retraining.onDrift is on but no monitor has `retrain: true`", Severity.WARNING,
            path=("pipeline", "retraining", "onDrift"), hint="set `retrain: true` on the drift monitors")
    for path, schedule in (
        (("pipeline", "schedule"), plan.pipeline.schedule),
        (("serving", "batch", "schedule"), plan.serving.batch.schedule if plan.serving.batch else None),
    ):
        if schedule is None:
            continue
        try:
            kfp_cron(schedule)
        except ValueError as exc:
            yield Diagnostic("KFP009", str(exc), path=path,
                             hint="use minute hour day-of-month month day-of-week, e.g. '0 3 * * 1'")


def _check_step(i: int, step: StepPlan, plan: Plan) -> Iterator[Diagnostic]:
    if step.name in names.RESERVED_TASKS:
        yield Diagnostic("KFP001", f"step name {step.name!r} is the name of a task the kubeflow target adds",
                         path=_step_path(i, "name"), hint="rename the step")
    if step.resources.gpu > 0 and not _RESOURCE_NAME.fullmatch(step.resources.gpu_type or ""):
        yield Diagnostic(
            "KFP003", f"{step.resources.gpu} GPU(s) requested but the accelerator type "
            f"{step.resources.gpu_type!r} is not an extended resource name", path=_step_path(i, "resources", "gpuType"),
            hint="for example nvidia.com/gpu or amd.com/gpu")
    if not step.command:
        yield Diagnostic("KFP004", "step has no command; KFP runs its launcher instead of the image entrypoint",
                         path=_step_path(i), hint="set command, e.g. [python, -m, my_package.train]")
    for j, arg in enumerate(step.args):
        if "{{$" not in arg:  # most arguments hold no placeholder (_PLACEHOLDER's start): no scan, no sets
            continue
        inputs = set(names.TASK_PARAMETERS) | (set(names.PROMPT_PARAMETERS) if plan.model.prompt_sha256 else set())
        outputs = set(step.metrics)
        for ref in _PLACEHOLDER.findall(arg):
            match = _PARAM_REF.fullmatch(ref)
            ok = match is not None and (
                (match.group(1) == "inputs" and match.group(3) is None and match.group(2) in inputs)
                or (match.group(1) == "outputs" and match.group(3) is not None and match.group(2) in outputs))
            if not ok:
                known = "inputs: " + ", ".join(sorted(inputs)) + "; outputs: " + (", ".join(sorted(outputs)) or "none")
                yield Diagnostic("KFP005", f"placeholder {{{{${ref}}}}} names nothing this task has",
                                 path=_step_path(i, "args", j), hint=known)
    for j, tol in enumerate(step.tolerations):
        if tol.operator == "Exists" and tol.value:
            yield Diagnostic("KFP006", "a toleration with operator Exists must not have a value",
                             path=_step_path(i, "tolerations", j, "value"))


def _check_gates(plan: Plan) -> Iterator[Diagnostic]:
    evaluation = plan.pipeline.evaluation_step
    for i, gate in enumerate(plan.gates):
        producers = [s.name for s in plan.pipeline.steps if s.name != evaluation and gate.metric in s.metrics]
        if producers:
            yield Diagnostic(
                "KFP002", f"metric {gate.metric!r} comes from step {producers[0]!r}, but the gates read the "
                f"outputs of the evaluation step {evaluation!r}", path=("gates", i, "metric"),
                hint=f"list {gate.metric!r} in the metrics of {evaluation!r}, or output it from one step only")
        if gate.baseline and plan.model.previous_version is None:
            yield Diagnostic(
                "KFP008", f"gate on {gate.metric!r} compares with a baseline, but model.previous is not set",
                Severity.WARNING, path=("gates", i, "baseline"),
                hint=f"runs need the parameter {names.baseline_parameter(gate.metric)!r}; without it KFP refuses them")
