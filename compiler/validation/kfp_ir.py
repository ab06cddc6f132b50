"""Strict checks of a compiled Kubeflow Pipelines v2 pipeline (IR YAML), as GUIDE §4 describes.

The protobuf parse catches unknown and mistyped fields, but the IR's references are plain strings the
SDK loader never resolves (a task naming a missing component loads fine and fails on the cluster), so
they are checked here. Everything kfp is imported lazily: it is an optional dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic, Path
from compiler.validation.common import INSTALL_HINT, KFP_INVALID, VALIDATOR_MISSING

SCHEMA_VERSION = "2.1.0"  # the only version the KFP backend accepts

IR_DOC = 0  # index of the pipeline document in what validate_pipeline returns
PLATFORM_DOC = 1  # index of the optional `platforms:` document

_PARSE_AT = re.compile(r' at "([^"]*)"')
_PARSE_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_PARSE_FIELD = re.compile(r'has no field named "([^"]+)"')
_CONDITION_PARAM = re.compile(r"parameter_values\[['\"]([^'\"]+)['\"]\]")

Located = tuple[int, Diagnostic]  # (IR_DOC | PLATFORM_DOC, diagnostic)


def _invalid(message: str, path: Path = ()) -> Diagnostic:
    return Diagnostic(KFP_INVALID, message, path=path)


def is_pipeline_ir(doc: object) -> bool:
    return isinstance(doc, Mapping) and "pipelineInfo" in doc and "root" in doc


def is_platform_spec(doc: object) -> bool:
    return isinstance(doc, Mapping) and set(doc) == {"platforms"}


def validate_pipeline(ir: object, platform: object | None = None, *, text: str | None = None) -> list[Located]:
    """All problems of one pipeline and its optional platform document.

    `text` is the file as written, given to the SDK loader last; without it the documents are re-dumped.
    """
    try:
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2
    except ImportError:
        return [
            (
                IR_DOC,
                Diagnostic(
                    VALIDATOR_MISSING,
                    "kfp is not installed; the pipeline cannot be checked",
                    hint=INSTALL_HINT,
                ),
            )
        ]
    if not isinstance(ir, Mapping):
        return [(IR_DOC, _invalid("a pipeline must be a mapping"))]
    out: list[Located] = []

    def parse(doc: object, message: Any, where: Path, doc_index: int = IR_DOC) -> bool:
        try:
            json_format.ParseDict(doc, message, ignore_unknown_fields=False)
            return True
        except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            path = (*where, *_parse_error_path(first))
            out.append((doc_index, _invalid(f"{message.DESCRIPTOR.name}: {first}", path)))
            return False

    parse(ir, pipeline_spec_pb2.PipelineSpec(), ())
    if ir.get("schemaVersion") != SCHEMA_VERSION:
        msg = f"schemaVersion must be {SCHEMA_VERSION!r}, got {ir.get('schemaVersion')!r}"
        out.append((IR_DOC, _invalid(msg, ("schemaVersion",))))
    deployment = ir.get("deploymentSpec")
    if deployment is not None:
        parse(deployment, pipeline_spec_pb2.PipelineDeploymentConfig(), ("deploymentSpec",))
    # References are checked even after a parse error (all problems at once); the SDK loader is not,
    # since it fails on broken input with bare KeyErrors that would only repeat what was found.
    out += [(IR_DOC, d) for d in _cross_references(ir)]
    if platform is not None:
        out += _check_platform(platform, ir, parse)
    if not out:
        out += _load_with_sdk(ir, platform, text)
    return out


def _check_platform(platform: object, ir: Mapping[str, Any], parse: Any) -> list[Located]:
    from kfp.kubernetes import kubernetes_executor_config_pb2
    from kfp.pipeline_spec import pipeline_spec_pb2

    if not parse(platform, pipeline_spec_pb2.PlatformSpec(), (), PLATFORM_DOC):
        return []
    out: list[Located] = []
    executors = _executors(ir)
    platforms = _map(_map(platform).get("platforms"))
    k8s_executors = _map(_map(_map(platforms.get("kubernetes")).get("deploymentSpec")).get("executors"))
    for label, config in _items(k8s_executors):
        where: Path = ("platforms", "kubernetes", "deploymentSpec", "executors", label)
        parse(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig(), where, PLATFORM_DOC)
        if label not in executors:
            msg = f"Kubernetes config for executor {label!r}, which deploymentSpec.executors does not define"
            out.append((PLATFORM_DOC, _invalid(msg, where)))
    return out


def _parse_error_path(message: str) -> Path:
    """The document path in a protobuf ParseError: `... no field named "x" at "PipelineSpec.a[k].b".`
    names the message type first, then fields, map keys and list indexes."""
    where = _PARSE_AT.search(message)
    if where is None:
        return ()
    tokens = _PARSE_TOKEN.findall(where.group(1))[1:]  # drop the message type name
    path: list[str | int] = [int(key) if key.isdigit() else key or name for name, key in tokens]
    unknown = _PARSE_FIELD.search(message)
    if unknown is not None:
        path.append(unknown.group(1))
    return tuple(path)


def _load_with_sdk(ir: Mapping[str, Any], platform: object | None, text: str | None) -> list[Located]:
    from kfp import components

    if text is None:
        text = yaml.safe_dump_all([ir] if platform is None else [ir, platform], sort_keys=False)
    try:
        components.load_component_from_text(text)
    except Exception as exc:  # the SDK raises anything from KeyError to ValueError
        return [(IR_DOC, _invalid(f"kfp.components.load_component_from_text: {exc!r}"))]
    return []


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _has(container: Mapping[str, Any], key: object) -> bool:
    # Keys are names; a mapping or list where a name belongs must count as "not found", not crash.
    return isinstance(key, str) and key in container


def _items(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    # YAML keys need not be strings (`1:`); order by text so mixed keys cannot break sorting.
    return sorted(mapping.items(), key=lambda kv: str(kv[0]))


def _executors(ir: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(_map(ir.get("deploymentSpec")).get("executors"))


def _dags(ir: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """(path of the owning component, that component) for the root and every sub-DAG component."""
    yield ("root",), _map(ir.get("root"))
    for name, comp in _items(_map(ir.get("components"))):
        if "dag" in _map(comp):
            yield ("components", name), _map(comp)


def _cross_references(ir: Mapping[str, Any]) -> list[Diagnostic]:
    components = _map(ir.get("components"))
    executors = _executors(ir)
    out: list[Diagnostic] = []
    for name, comp in _items(components):
        comp = _map(comp)
        label = comp.get("executorLabel")
        if label is not None and not _has(executors, label):
            msg = f"executor {label!r} is not defined in deploymentSpec.executors"
            out.append(_invalid(msg, ("components", name, "executorLabel")))
        if label is None and "dag" not in comp:
            out.append(_invalid("component has neither a dag nor an executorLabel", ("components", name)))
    for owner_path, owner in _dags(ir):
        out += _check_dag(owner_path, owner, components)
    return out


def _check_dag(owner_path: Path, owner: Mapping[str, Any], components: Mapping[str, Any]) -> list[Diagnostic]:
    dag = _map(owner.get("dag"))
    tasks = _map(dag.get("tasks"))
    owner_inputs = _map(owner.get("inputDefinitions"))
    out: list[Diagnostic] = []
    for tname, task in _items(tasks):
        task = _map(task)
        at: Path = (*owner_path, "dag", "tasks", tname)
        ref = _map(task.get("componentRef")).get("name")
        if not _has(components, ref):
            out.append(_invalid(f"componentRef {ref!r} is not defined in components", (*at, "componentRef", "name")))
        deps = _list(task.get("dependentTasks"))
        for i, dep in enumerate(deps):
            if dep == tname or not _has(tasks, dep):
                why = "the task itself" if dep == tname else "not a task of the same DAG"
                out.append(_invalid(f"dependentTasks entry {dep!r} is {why}", (*at, "dependentTasks", i)))
        comp = _map(components[ref]) if isinstance(ref, str) and ref in components else None
        out += _check_task_inputs(at, task, tname, tasks, deps, comp, owner_inputs, components)
    out += _check_dag_outputs(owner_path, dag, tasks)
    out += _check_cycles(owner_path, tasks)
    return out


def _check_task_inputs(
    at: Path,
    task: Mapping[str, Any],
    tname: str,
    tasks: Mapping[str, Any],
    deps: list[Any],
    comp: Mapping[str, Any] | None,
    owner_inputs: Mapping[str, Any],
    components: Mapping[str, Any],
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    inputs = _map(task.get("inputs"))
    for kind, producer_key, output_key, owner_key in (
        ("parameters", "taskOutputParameter", "outputParameterKey", "componentInputParameter"),
        ("artifacts", "taskOutputArtifact", "outputArtifactKey", "componentInputArtifact"),
    ):
        declared = _map(_map(comp.get("inputDefinitions") if comp else None).get(kind))
        given = _map(inputs.get(kind))
        for key, source in _items(given):
            where: Path = (*at, "inputs", kind, key)
            if comp is not None and key not in declared:
                out.append(_invalid(f"input {key!r} is not declared in the component's inputDefinitions.{kind}", where))
            source = _map(source)
            if producer_key in source:
                out += _check_producer(
                    (*where, producer_key),
                    _map(source[producer_key]),
                    output_key,
                    kind,
                    tname,
                    tasks,
                    deps,
                    components,
                )
            if owner_key in source and not _has(_map(owner_inputs.get(kind)), source[owner_key]):
                out.append(
                    _invalid(
                        f"{owner_key} {source[owner_key]!r} is not an input of the enclosing component",
                        (*where, owner_key),
                    )
                )
        iterated = "parameterIterator" in task or "artifactIterator" in task
        for key, spec in _items(declared):
            spec = _map(spec)
            required = not spec.get("isOptional") and "defaultValue" not in spec
            if required and key not in given and not iterated:
                out.append(_invalid(f"required input {kind[:-1]} {key!r} is not provided", (*at, "inputs", kind)))
    condition = _map(task.get("triggerPolicy")).get("condition")
    if isinstance(condition, str):
        params = _map(inputs.get("parameters"))
        for name in sorted(set(_CONDITION_PARAM.findall(condition))):
            if name not in params:
                out.append(
                    _invalid(
                        f"condition uses parameter {name!r}, which is not an input of the task",
                        (*at, "triggerPolicy", "condition"),
                    )
                )
    return out


def _check_producer(
    where: Path,
    ref: Mapping[str, Any],
    output_key: str,
    kind: str,
    tname: str,
    tasks: Mapping[str, Any],
    deps: list[Any],
    components: Mapping[str, Any],
) -> list[Diagnostic]:
    producer = ref.get("producerTask")
    if not _has(tasks, producer) or producer == tname:
        return [_invalid(f"producerTask {producer!r} is not a sibling task", (*where, "producerTask"))]
    out: list[Diagnostic] = []
    if producer not in deps:
        # The backend orders tasks by dependentTasks only; a consumer could start before its producer.
        out.append(_invalid(f"producerTask {producer!r} is missing from dependentTasks", (*where, "producerTask")))
    pref = _map(_map(tasks[str(producer)]).get("componentRef")).get("name")
    if not isinstance(pref, str) or pref not in components:
        return out  # reported at the producer's own componentRef
    produced = _map(_map(_map(components[pref]).get("outputDefinitions")).get(kind))
    if not _has(produced, ref.get(output_key)):
        out.append(
            _invalid(
                f"{output_key} {ref.get(output_key)!r} is not an output of task {producer!r}", (*where, output_key)
            )
        )
    return out


def _check_dag_outputs(owner_path: Path, dag: Mapping[str, Any], tasks: Mapping[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    outputs = _map(dag.get("outputs"))
    for key, spec in _items(_map(outputs.get("parameters"))):
        sub = _map(_map(spec).get("valueFromParameter")).get("producerSubtask")
        if sub is not None and not _has(tasks, sub):
            out.append(
                _invalid(
                    f"producerSubtask {sub!r} is not a task of this DAG",
                    (*owner_path, "dag", "outputs", "parameters", key),
                )
            )
    for key, spec in _items(_map(outputs.get("artifacts"))):
        for i, sel in enumerate(_list(_map(spec).get("artifactSelectors"))):
            sub = _map(sel).get("producerSubtask")
            if not _has(tasks, sub):
                out.append(
                    _invalid(
                        f"producerSubtask {sub!r} is not a task of this DAG",
                        (*owner_path, "dag", "outputs", "artifacts", key, "artifactSelectors", i),
                    )
                )
    return out


def _check_cycles(owner_path: Path, tasks: Mapping[str, Any]) -> list[Diagnostic]:
    graph = {name: [d for d in _list(_map(t).get("dependentTasks")) if _has(tasks, d)] for name, t in tasks.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str) -> str | None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                return str(dep)
            if dep not in state and (found := visit(dep)) is not None:
                return found
        state[node] = 2
        return None

    for name in sorted(graph, key=str):
        if name not in state and (found := visit(name)) is not None:
            return [
                _invalid(
                    f"dependentTasks form a cycle through {found!r}",
                    (*owner_path, "dag", "tasks", found, "dependentTasks"),
                )
            ]
    return []
