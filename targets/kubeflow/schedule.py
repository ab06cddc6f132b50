"""The schedule in a committable form: a CronJob that starts a KFP run, plus the ConfigMap it runs from.

KFP recurring runs have no CRD and no update API (GUIDE §4), so the schedule is a `batch/v1` CronJob
whose pod runs `start_run.py` (stdlib only, shipped in the ConfigMap next to the pipeline JSON) with a
stock Python image. Every value reaches the program as its own argv item: nothing is parsed by a shell.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from compiler.planning.plan import Plan
from compiler.render import provenance
from targets.kubeflow import names, runs
from targets.kubeflow.cron import kfp_cron
from targets.kubeflow.ir import RenderedPipeline
from targets.kubeflow.runs import RUN_ID
from targets.kubeflow.settings import KubeflowSettings

RUNNER_SOURCE = Path(__file__).with_name("start_run.py")
CRONJOB_NAME_LIMIT = 52  # the controller appends an 11-character suffix for Job names
RUNNER_DIR = "/etc/mlspec/runner"
PARAMS_DIR = "/etc/mlspec/params"
TOKEN_DIR = "/var/run/secrets/kubeflow/pipelines"  # where the kfp client looks for its SA token
TOKEN_AUDIENCE = "pipelines.kubeflow.org"
# Never fires (February 30th): the CronJob of a pipeline without a schedule is only a template for
# triggered runs (`kubectl create job --from=cronjob/...`), and it is suspended as well.
NEVER = "0 0 30 2 *"


@functools.cache
def runner_source() -> str:
    return RUNNER_SOURCE.read_text(encoding="utf-8")  # read once per process, not once per model


def pipeline_json(pipeline: RenderedPipeline) -> str:
    """What the runner posts, as compact JSON on one line.

    pipeline.yaml beside the schedule is the reviewable form of the same data (tests hold the two equal);
    a pretty-printed copy here showed every pipeline change twice in review and was a fifth of a
    model's rendered bytes.
    """
    return json.dumps(pipeline.api_form(), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def object_name(plan: Plan, purpose: str) -> str:
    return names.short_name(plan.name, purpose, CRONJOB_NAME_LIMIT)


def params_configmap_name(plan: Plan, purpose: str) -> str:
    return names.short_name(plan.name, f"{purpose}-params", 253)


def runner_configmap(plan: Plan, settings: KubeflowSettings, pipeline: RenderedPipeline,
                     purpose: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": provenance.metadata(plan, object_name(plan, purpose), settings.namespace),
        "data": {
            "pipeline.json": pipeline_json(pipeline),
            "start_run.py": runner_source(),
        },
    }


def cronjob(plan: Plan, settings: KubeflowSettings, pipeline: RenderedPipeline, purpose: str,
            schedule: str | None) -> dict[str, Any]:
    name = object_name(plan, purpose)
    declared = runs.declared_parameters(pipeline.api_form())
    # Only a pipeline with parameters nobody can default (production's baselines) reads the params
    # ConfigMap; the others must not depend on an object mlspec does not render.
    needs_params = any(name.startswith("baseline_") and "defaultValue" not in d for name, d in declared.items())
    args = ["--host", settings.host, "--pipeline", f"{RUNNER_DIR}/pipeline.json", "--run-name", pipeline.name]
    if needs_params:
        args += ["--param-dir", PARAMS_DIR]
    if RUN_ID in declared:
        args += ["--run-id-param", RUN_ID]
    if settings.experimentId:
        args += ["--experiment-id", settings.experimentId]
    if settings.multiUser:
        args += ["--token-file", f"{TOKEN_DIR}/token"]
    if settings.skipIfActive:
        args.append("--skip-if-active")
    mounts: list[dict[str, Any]] = [{"mountPath": RUNNER_DIR, "name": "runner", "readOnly": True}]
    volumes: list[dict[str, Any]] = [{"configMap": {"name": name}, "name": "runner"}]
    if needs_params:
        # Baselines are production's metrics, not spec data: a ConfigMap the register step or an operator
        # maintains outside git; optional, so a missing one makes KFP refuse the run, not the pod hang.
        mounts.append({"mountPath": PARAMS_DIR, "name": "params", "readOnly": True})
        volumes.append({"configMap": {"name": params_configmap_name(plan, purpose), "optional": True},
                        "name": "params"})
    if settings.multiUser:
        mounts.append({"mountPath": TOKEN_DIR, "name": "kfp-token", "readOnly": True})
        volumes.append({"name": "kfp-token", "projected": {"sources": [{"serviceAccountToken": {
            "audience": TOKEN_AUDIENCE, "expirationSeconds": 3600, "path": "token"}}]}})
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": [{
            "name": "start-run",
            "image": settings.runnerImage,
            "command": ["python", f"{RUNNER_DIR}/start_run.py"],
            "args": args,
            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True},
            "volumeMounts": mounts,
        }],
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": volumes,
    }
    if settings.serviceAccountName:
        pod_spec["serviceAccountName"] = settings.serviceAccountName
    meta = provenance.metadata(plan, name, settings.namespace)
    annotations = dict(meta["annotations"])  # type: ignore[call-overload]
    annotations["mlspec.dev/pipeline"] = pipeline.name
    if schedule is not None:
        annotations["mlspec.dev/kfp-cron"] = kfp_cron(schedule)  # the same schedule as a KFP recurring run
    meta["annotations"] = annotations
    labels = provenance.labels(plan)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta,
        "spec": {
            "schedule": schedule or NEVER,
            "timeZone": "Etc/UTC",  # plan schedules are UTC
            "suspend": schedule is None,
            # Forbid keeps two starter Jobs from overlapping; --skip-if-active keeps runs from overlapping.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": settings.startingDeadlineSeconds,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    # A retry after a lost response could start a second run; a failed Job is the signal.
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 300,
                    "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
                },
            },
        },
    }
