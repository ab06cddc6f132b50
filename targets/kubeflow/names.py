"""Names in the IR and in Kubernetes, derived from the plan the way the kfp SDK derives them."""

from __future__ import annotations

import hashlib
import re

REGISTER_TASK = "register-model"
GATES_TASK = "condition-gates"
SCORE_TASK = "score"
RESERVED_TASKS = frozenset({REGISTER_TASK, GATES_TASK})
CHANNEL = "pipelinechannel--"

# Provenance passed into every run as pipeline parameters (root inputDefinitions with defaults) and into
# every task as inputs, so they are part of each task's cache key and recorded in ML Metadata.
# Python identifiers, like the parameters the kfp SDK emits (the SDK loader turns them into arguments).
PIN_PARAMETERS = (
    "model_name", "model_version", "model_uri", "data_dataset", "data_version", "data_hash",
    "code_repo", "code_commit",
)
# Run-unique, without a default: every run says which run it is (CI run, schedule time, alert), so each
# task's cache key and the registered model's URI differ per run (targets/kubeflow/runs.py).
RUN_ID = "run_id"
# Where this run's model goes: `<model_uri>/runs/<run_id>`, set by whoever starts the run (runs.py,
# start_run.py), never the spec's immutable model_uri, which a retraining run would otherwise overwrite.
OUTPUT_URI = "model_output_uri"
TASK_PARAMETERS = (*PIN_PARAMETERS, RUN_ID, OUTPUT_URI)
# An LLM application's prompt pin (model.prompt): with defaults, and an input of every training task, so
# a step can check the file it loads (`--prompt-sha256 {{$.inputs.parameters['prompt_sha256']}}`) and a
# changed pin is a new cache key.
PROMPT_PARAMETERS = ("prompt_path", "prompt_sha256")


def component(task: str) -> str:
    return f"comp-{task}"


def executor(task: str) -> str:
    return f"exec-{task}"


def baseline_parameter(metric: str) -> str:
    return f"baseline_{metric}"


def metric_input(metric: str) -> str:
    return f"metric_{metric}"


def channel_output(task: str, output: str) -> str:
    """The name the SDK gives a task output consumed inside a condition: `pipelinechannel--evaluate-auc`."""
    return f"{CHANNEL}{task}-{output}"


def channel(parameter: str) -> str:
    return f"{CHANNEL}{parameter}"


def input_placeholder(name: str) -> str:
    return "{{$.inputs.parameters['" + name + "']}}"


def output_placeholder(name: str) -> str:
    return "{{$.outputs.parameters['" + name + "'].output_file}}"


def sanitize(name: str) -> str:
    """kfp's `utils.sanitize_component_name` without the prefix: what the SDK would call this step."""
    return re.sub("-+", "-", re.sub("[^-0-9a-z]+", "-", name.lower())).strip("-")


def short_name(base: str, suffix: str, limit: int) -> str:
    """`<base>-<suffix>` within `limit` characters; too long, the base is cut and a hash keeps it unique."""
    name = f"{base}-{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = limit - len(suffix) - len(digest) - 2
    return f"{base[:keep].rstrip('-')}-{digest}-{suffix}"
