"""One KFP run of a rendered training pipeline: its run-unique parameters and the v2beta1 request.

Every run gets a `run_id` parameter (the CI run, the scheduler's start time, the alert that triggered
it) and `model_output_uri` = `<model_uri>/runs/<run_id>`. Both are inputs of every task, so KFP's cache
key differs per run and a retraining run trains instead of replaying the cache, and the model is
written and registered under a run-unique URI instead of over the spec's immutable one
(docs/kubeflow.md).

Baseline parameters have no default in the IR (a run without the production model's value must not
start); the caller passes them from a metrics file, or says explicitly that this is a first deployment.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from targets.kubeflow import names

RUN_ID = names.RUN_ID
# The part of a gate's CEL condition that compares with the baseline: `>= inputs.parameter_values[...]`.
_BASELINE_TERM = re.compile(
    r"(>=|<=) inputs\.parameter_values\['" + re.escape(names.CHANNEL) + r"baseline_([A-Za-z0-9_]+)'\]")
# A first deployment has nothing to compare with: like `mlspec gate` without --baseline, the baseline
# term must hold for any candidate. JSON has no infinity, so the largest finite doubles stand in.
_NO_BASELINE = {">=": -1e308, "<=": 1e308}
MODEL_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


class RunError(ValueError):
    """The run cannot be requested as asked (bad package, missing baseline, bad run id)."""


def load_package(path: Path) -> dict[str, Any]:
    """The `pipeline_spec` of a run request from a rendered pipeline.yaml (IR plus optional platform)."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise RunError(f"cannot read the pipeline package {path}: {exc}") from exc
    if not docs or not isinstance(docs[0], dict) or "root" not in docs[0]:
        raise RunError(f"{path} is not a KFP pipeline package (no `root`)")
    if len(docs) == 1:
        return dict(docs[0])
    return {"pipeline_spec": docs[0], "platform_spec": docs[1]}


def _ir(pipeline_spec: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = pipeline_spec.get("pipeline_spec")
    return inner if isinstance(inner, Mapping) else pipeline_spec


def declared_parameters(pipeline_spec: Mapping[str, Any]) -> dict[str, Any]:
    root = _ir(pipeline_spec).get("root") or {}
    params = (root.get("inputDefinitions") or {}).get("parameters") or {}
    return dict(params)


def baseline_directions(pipeline_spec: Mapping[str, Any]) -> dict[str, str]:
    """metric -> `>=` (higher is better) or `<=`, read from the gates' conditions."""
    out: dict[str, str] = {}
    for component in (_ir(pipeline_spec).get("components") or {}).values():
        for task in ((component.get("dag") or {}).get("tasks") or {}).values():
            condition = (task.get("triggerPolicy") or {}).get("condition", "")
            for op, metric in _BASELINE_TERM.findall(condition):
                out[metric] = op
    for task in (((_ir(pipeline_spec).get("root") or {}).get("dag") or {}).get("tasks") or {}).values():
        condition = (task.get("triggerPolicy") or {}).get("condition", "")
        for op, metric in _BASELINE_TERM.findall(condition):
            out[metric] = op
    return out


def read_metrics(path: Path) -> dict[str, float]:
    """A metrics file as `mlspec gate` reads it: `{"auc": 0.93}` or `{"metrics": {...}}`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read baseline metrics {path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
        data = data["metrics"]
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object of metric values")
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        out[str(key)] = float(value)
    return out


def run_parameters(pipeline_spec: Mapping[str, Any], run_id: str, baseline: Mapping[str, float] | None,
                   *, first_deployment: bool = False) -> dict[str, Any]:
    """The runtime parameters: `run_id` and every baseline the pipeline declares without a default."""
    if not _RUN_ID.fullmatch(run_id):
        raise RunError(f"run id {run_id!r} must be 1-63 letters, digits, '.', '_' or '-'")
    declared = declared_parameters(pipeline_spec)
    out: dict[str, Any] = {}
    if RUN_ID in declared:
        out[RUN_ID] = run_id
    if names.OUTPUT_URI in declared:
        base = (declared.get("model_uri") or {}).get("defaultValue")
        if not isinstance(base, str) or not base:
            raise RunError("the pipeline declares model_output_uri but model_uri has no default to derive it from")
        out[names.OUTPUT_URI] = output_uri(base, run_id)
    directions = baseline_directions(pipeline_spec)
    for name in sorted(declared):
        if not name.startswith("baseline_") or "defaultValue" in declared[name]:
            continue
        metric = name.removeprefix("baseline_")
        if baseline is not None:
            if metric not in baseline:
                raise RunError(f"the baseline metrics have no {metric!r}, which the pipeline's gates compare with")
            out[name] = baseline[metric]
        elif first_deployment:
            out[name] = _NO_BASELINE[directions.get(metric, ">=")]
        else:
            raise RunError(f"the pipeline compares {metric!r} with production's value: pass --baseline FILE, "
                           "or --first-deployment when no model is in production yet")
    return out


def output_uri(model_uri: str, run_id: str) -> str:
    """The run-unique place of a run's model (start_run.py computes the same)."""
    return f"{model_uri.rstrip('/')}/runs/{run_id}"


def request_body(display_name: str, pipeline_spec: Mapping[str, Any], parameters: Mapping[str, Any],
                 experiment_id: str | None = None) -> dict[str, Any]:
    """A v2beta1 `V2beta1Run` as JSON (snake_case keys, as the API server's JSON gateway takes them)."""
    body: dict[str, Any] = {
        "display_name": display_name,
        "pipeline_spec": dict(pipeline_spec),
        "runtime_config": {"parameters": dict(parameters)},
    }
    if experiment_id:
        body["experiment_id"] = experiment_id
    return body
