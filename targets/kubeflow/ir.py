"""Pipeline IR (PipelineSpec, schemaVersion 2.1.0) and its Kubernetes platform document, as data.

The shape follows what kfp 2.17.3's compiler emits for the same pipeline written in the DSL, keys sorted
like the SDK's output, so a diff against an SDK-compiled pipeline shows only real differences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.planning.feature_store import feature_store_env
from compiler.planning.plan import Plan, ResourcesPlan, StepPlan
from targets.kubeflow import evaluation_conditions, names
from targets.kubeflow.settings import KubeflowSettings

SCHEMA_VERSION = "2.1.0"
SDK_VERSION = "kfp-2.17.3"  # the IR dialect written; the kfp SDK loader checks it is a kfp-x.y.z string

# The kfp SDK's own quantity rules; the deprecated double fields are written only for what it accepts.
_SDK_CPU = re.compile(r"([0-9]*[.])?[0-9]+m?$")
_SDK_MEMORY = re.compile(r"^[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?$")
_MEMORY_UNITS = {
    "E": 10**18, "Ei": 2**60, "P": 10**15, "Pi": 2**50, "T": 10**12, "Ti": 2**40, "G": 10**9, "Gi": 2**30,
    "M": 10**6, "Mi": 2**20, "K": 10**3, "Ki": 2**10, "": 1,
}


@dataclass(frozen=True, slots=True)
class RenderedPipeline:
    name: str  # pipelineInfo.name
    ir: dict[str, Any]
    platform: dict[str, Any] | None  # the `platforms:` document, None when no task needs one

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [self.ir] if self.platform is None else [self.ir, self.platform]

    def api_form(self) -> dict[str, Any]:
        """`pipeline_spec` of a v2beta1 run request, as the kfp client sends it."""
        if self.platform is None:
            return self.ir
        return {"pipeline_spec": self.ir, "platform_spec": self.platform}


def sorted_tree(value: Any) -> Any:
    """A copy of `value` with every mapping's keys sorted (the SDK's order) and tuples as lists."""
    kind = type(value)
    if kind is dict:  # scalars (most values) are taken as they are, without a call each
        out: dict[Any, Any] = {}
        for key in sorted(value):
            item = value[key]
            out[key] = item if type(item) in _LEAVES else sorted_tree(item)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _LEAVES else sorted_tree(v) for v in value]
    if isinstance(value, Mapping):
        return {k: sorted_tree(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [sorted_tree(v) for v in value]
    return value


_LEAVES = frozenset({str, int, float, bool, type(None)})


def pin_values(plan: Plan) -> dict[str, str]:
    return {
        "model_name": plan.name, "model_version": plan.model.version, "model_uri": plan.model.uri,
        "data_dataset": plan.data.dataset, "data_version": plan.data.version, "data_hash": plan.data.hash,
        "code_repo": plan.model.code_repo, "code_commit": plan.model.code_commit,
    }


def _string_params(keys: Sequence[str]) -> dict[str, Any]:
    return {k: {"parameterType": "STRING"} for k in keys}


def _from_root(keys: Sequence[str], *, via_channel: bool = False) -> dict[str, Any]:
    return {k: {"componentInputParameter": names.channel(k) if via_channel else k} for k in keys}


def _cpu_float(cpu: str) -> float | None:
    if not _SDK_CPU.fullmatch(cpu):
        return None
    return float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)


def _memory_float(memory: str) -> float | None:
    match = _SDK_MEMORY.fullmatch(memory)
    if not match:
        return None
    unit = match.group(1) or ""
    return float(memory[: len(memory) - len(unit)]) * _MEMORY_UNITS[unit] / 10**9


def container_resources(res: ResourcesPlan) -> dict[str, Any]:
    """Requests equal limits (predictable training pods); the deprecated doubles serve old backends."""
    out: dict[str, Any] = {}
    if res.cpu:
        out["resourceCpuLimit"] = out["resourceCpuRequest"] = res.cpu
        value = _cpu_float(res.cpu)
        if value is not None:
            out["cpuLimit"] = out["cpuRequest"] = value
    if res.memory:
        out["resourceMemoryLimit"] = out["resourceMemoryRequest"] = res.memory
        value = _memory_float(res.memory)
        if value is not None:
            out["memoryLimit"] = out["memoryRequest"] = value
    if res.gpu > 0:
        count = str(res.gpu)
        out["accelerator"] = {"count": count, "resourceCount": count, "resourceType": res.gpu_type,
                              "type": res.gpu_type}
    return out


def _task(task: str, *, deps: Sequence[str], inputs: dict[str, Any], cache: bool, retries: int = 0,
          condition: str | None = None, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cachingOptions": {"enableCache": cache},
        "componentRef": {"name": names.component(task)},
        "taskInfo": {"name": display or task},
    }
    if deps:
        out["dependentTasks"] = sorted(deps)
    if inputs:
        out["inputs"] = {"parameters": inputs}
    if retries:
        out["retryPolicy"] = {"backoffDuration": "0s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s",
                              "maxRetryCount": retries}
    if condition:
        out["triggerPolicy"] = {"condition": condition}
    return out


def _step_executor(plan: Plan, step: StepPlan) -> dict[str, Any]:
    args = list(step.args)
    for metric in step.metrics:
        # The output file's path is only known at run time, so it is handed to the program as an argument.
        args += [f"--output-{metric}", names.output_placeholder(metric)]
    container: dict[str, Any] = {"image": step.image}
    if step.command:
        container["command"] = list(step.command)
    if args:
        container["args"] = args
    env = [{"name": e.name, "value": e.value} for e in step.env if e.value is not None]
    env += feature_store_env(plan, frozenset(e.name for e in step.env))
    if env:
        container["env"] = env
    resources = container_resources(step.resources)
    if resources:
        container["resources"] = resources
    return {"container": container}


def _step_platform(step: StepPlan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if step.node_selector:
        out["nodeSelector"] = {"labels": dict(step.node_selector)}
    if step.tolerations:
        out["tolerations"] = [
            {k: v for k, v in (("key", t.key), ("operator", t.operator), ("value", t.value), ("effect", t.effect))
             if v is not None}
            for t in step.tolerations
        ]
    by_secret: dict[str, list[dict[str, str]]] = {}
    for e in step.env:
        if e.secret_name is not None and e.secret_key is not None:
            by_secret.setdefault(e.secret_name, []).append({"envVar": e.name, "secretKey": e.secret_key})
    if by_secret:
        # Only the Secret's name and key are written; the value stays in the cluster. secretName is read by
        # older backends, secretNameParameter by newer ones (kfp-kubernetes writes both).
        out["secretAsEnv"] = [
            {"keyToEnv": keys, "optional": False, "secretName": secret,
             "secretNameParameter": {"runtimeValue": {"constant": secret}}}
            for secret, keys in sorted(by_secret.items())
        ]
    if step.timeout_seconds:
        out["activeDeadlineSeconds"] = step.timeout_seconds
    return out


def task_parameters(plan: Plan) -> tuple[str, ...]:
    """What every training task receives: the pins, the run id and, for LLM applications, the prompt pin."""
    return (*names.TASK_PARAMETERS, *(names.PROMPT_PARAMETERS if plan.model.prompt_sha256 else ()))


def _register(plan: Plan, settings: KubeflowSettings, metrics: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    args: list[str] = []
    for key in task_parameters(plan):
        args += ["--" + key.replace("_", "-"), names.input_placeholder(key)]
    for metric in metrics:
        args += ["--metric", metric, names.input_placeholder(names.metric_input(metric))]
    component = {
        "executorLabel": names.executor(names.REGISTER_TASK),
        "inputDefinitions": {"parameters": {
            **_string_params(task_parameters(plan)),
            **{names.metric_input(m): {"parameterType": "NUMBER_DOUBLE"} for m in metrics},
        }},
    }
    executor = {"container": {"args": args, "command": list(settings.registerCommand),
                              "image": settings.registerImage or plan.pipeline.image}}
    return component, executor


def _leaves(steps: Sequence[StepPlan]) -> list[str]:
    used = {dep for s in steps for dep in s.after}
    return [s.name for s in steps if s.name not in used]


def _finish(name: str, plan: Plan, settings: KubeflowSettings, components: dict[str, Any],
            executors: dict[str, Any], tasks: dict[str, Any], root_params: dict[str, Any],
            platform: dict[str, Any]) -> RenderedPipeline:
    ir: dict[str, Any] = {
        "components": components,
        "deploymentSpec": {"executors": executors},
        "pipelineInfo": {"description": f"{plan.description} (model {plan.name} v{plan.model.version})"[:1000],
                         "displayName": name, "name": name},
        "root": {"dag": {"tasks": tasks}, "inputDefinitions": {"parameters": root_params}},
        "schemaVersion": SCHEMA_VERSION,
        "sdkVersion": SDK_VERSION,
    }
    if settings.pipelineRoot:
        ir["defaultPipelineRoot"] = settings.pipelineRoot
    doc = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": platform}}}} if platform else None
    return RenderedPipeline(name=name, ir=sorted_tree(ir), platform=sorted_tree(doc) if doc else None)


def _pin_root_params(plan: Plan) -> dict[str, Any]:
    return {k: {"defaultValue": v, "isOptional": True, "parameterType": "STRING"}
            for k, v in pin_values(plan).items()}


def training_pipeline(plan: Plan, settings: KubeflowSettings) -> RenderedPipeline:
    pipeline = plan.pipeline
    components: dict[str, Any] = {}
    executors: dict[str, Any] = {}
    tasks: dict[str, Any] = {}
    platform: dict[str, Any] = {}
    for step in pipeline.steps:
        comp: dict[str, Any] = {
            "executorLabel": names.executor(step.name),
            "inputDefinitions": {"parameters": _string_params(task_parameters(plan))},
        }
        if step.metrics:
            comp["outputDefinitions"] = {
                "parameters": {m: {"parameterType": "NUMBER_DOUBLE"} for m in step.metrics}}
        components[names.component(step.name)] = comp
        executors[names.executor(step.name)] = _step_executor(plan, step)
        tasks[step.name] = _task(step.name, deps=step.after, inputs=_from_root(task_parameters(plan)),
                                 cache=step.cache, retries=step.retries)
        k8s = _step_platform(step)
        if k8s:
            platform[names.executor(step.name)] = k8s

    root_params = _pin_root_params(plan)
    root_params[names.RUN_ID] = {"parameterType": "STRING"}  # no default: each run names itself
    root_params[names.OUTPUT_URI] = {"parameterType": "STRING"}  # no default: derived from run_id per run
    if plan.model.prompt_path and plan.model.prompt_sha256:
        for key, value in zip(names.PROMPT_PARAMETERS, (plan.model.prompt_path, plan.model.prompt_sha256), strict=True):
            root_params[key] = {"defaultValue": value, "isOptional": True, "parameterType": "STRING"}
    baselines = evaluation_conditions.baseline_metrics(plan.gates)
    for metric in baselines:
        # No default on purpose: a run without the production model's value must not start (fail closed).
        root_params[names.baseline_parameter(metric)] = {"parameterType": "NUMBER_DOUBLE"}

    gate_metrics = list(dict.fromkeys(g.metric for g in plan.gates))
    evaluation = pipeline.evaluation_step
    register_comp, register_exec = _register(plan, settings, gate_metrics)
    components[names.component(names.REGISTER_TASK)] = register_comp
    executors[names.executor(names.REGISTER_TASK)] = register_exec
    deps = sorted({*_leaves(pipeline.steps), *([evaluation] if gate_metrics else [])})
    if not gate_metrics:
        tasks[names.REGISTER_TASK] = _task(names.REGISTER_TASK, deps=deps, inputs=_from_root(task_parameters(plan)),
                                           cache=False)
    else:
        # The SDK's shape for `with dsl.If(...)`: a sub-DAG component whose inputs are pipeline channels.
        sub_inputs: dict[str, Any] = {names.channel(k): {"parameterType": "STRING"} for k in task_parameters(plan)}
        outer: dict[str, Any] = {names.channel(k): {"componentInputParameter": k} for k in task_parameters(plan)}
        register_inputs: dict[str, Any] = _from_root(task_parameters(plan), via_channel=True)
        for metric in gate_metrics:
            chan = names.channel_output(evaluation, metric)
            sub_inputs[chan] = {"parameterType": "NUMBER_DOUBLE"}
            outer[chan] = {"taskOutputParameter": {"outputParameterKey": metric, "producerTask": evaluation}}
            register_inputs[names.metric_input(metric)] = {"componentInputParameter": chan}
        for metric in baselines:
            chan = names.channel(names.baseline_parameter(metric))
            sub_inputs[chan] = {"parameterType": "NUMBER_DOUBLE"}
            outer[chan] = {"componentInputParameter": names.baseline_parameter(metric)}
        components[names.component(names.GATES_TASK)] = {
            "dag": {"tasks": {names.REGISTER_TASK: _task(names.REGISTER_TASK, deps=(), inputs=register_inputs,
                                                         cache=False)}},
            "inputDefinitions": {"parameters": sub_inputs},
        }
        condition = evaluation_conditions.condition(plan.gates, evaluation)
        tasks[names.GATES_TASK] = _task(names.GATES_TASK, deps=deps, inputs=outer, cache=True,
                                        condition=condition, display="gates")
    return _finish(f"{plan.name}-train", plan, settings, components, executors, tasks, root_params, platform)


def scoring_pipeline(plan: Plan, settings: KubeflowSettings) -> RenderedPipeline | None:
    batch = plan.serving.batch
    if batch is None:
        return None
    keys = (*names.PIN_PARAMETERS, "input_uri", "output_uri")
    args: list[str] = []
    for key in ("model_uri", "model_version", "input_uri", "output_uri"):
        args += ["--" + key.replace("_", "-"), names.input_placeholder(key)]
    container: dict[str, Any] = {"args": args, "command": list(settings.scoreCommand),
                                 "image": settings.scoreImage or plan.pipeline.image}
    if feature_store_env(plan):
        container["env"] = feature_store_env(plan)
    env = scoring_environment(plan)
    resources = container_resources(env) if env is not None else {}
    if resources:
        container["resources"] = resources
    root_params = _pin_root_params(plan)
    root_params["input_uri"] = {"defaultValue": batch.input, "isOptional": True, "parameterType": "STRING"}
    root_params["output_uri"] = {"defaultValue": batch.output, "isOptional": True, "parameterType": "STRING"}
    components = {names.component(names.SCORE_TASK): {
        "executorLabel": names.executor(names.SCORE_TASK),
        "inputDefinitions": {"parameters": _string_params(keys)},
    }}
    executors = {names.executor(names.SCORE_TASK): {"container": container}}
    # Scoring writes new output each run: a cache hit would silently skip it.
    tasks = {names.SCORE_TASK: _task(names.SCORE_TASK, deps=(), inputs=_from_root(keys), cache=False)}
    return _finish(f"{plan.name}-score", plan, settings, components, executors, tasks, root_params, {})


def scoring_environment(plan: Plan) -> ResourcesPlan | None:
    """Resources of the environment batch scoring runs for: production if present, else the last."""
    envs = plan.serving.environments
    if not envs:
        return None
    chosen = next((e for e in envs if e.name == "production"), envs[-1])
    return chosen.resources
