"""What a retraining trigger needs, as a ConfigMap the webhook receiver reads.

The receiver (`mlspec kfp retrain-webhook`, targets/kubeflow/retrain_webhook.py) starts a run of the
committed training pipeline with a run-unique `run_id`, so a triggered run is the same, reviewed
pipeline as a scheduled one. This object tells it which alerts count and how often.
"""

from __future__ import annotations

import json
from typing import Any

from compiler.planning.plan import Plan
from compiler.render import provenance
from targets.kubeflow.settings import KubeflowSettings


def trigger_config(plan: Plan, cronjob_name: str) -> dict[str, Any]:
    retraining = plan.pipeline.retraining
    assert retraining is not None
    return {
        "cooldownSeconds": retraining.cooldown_seconds,
        "cronJob": cronjob_name,
        # Alerts from the prometheus target carry `model` and the monitor's name as `monitor`.
        "matchers": {"model": plan.name},
        "model": plan.name,
        "modelVersion": plan.model.version,
        "monitors": list(retraining.monitors),
        "onDataChange": retraining.on_data_change,
        "onDataChangeWatch": {"dataset": plan.data.dataset, "hash": plan.data.hash,
                              "location": plan.data.location} if retraining.on_data_change else None,
        "onDrift": retraining.on_drift,
    }


def configmap(plan: Plan, settings: KubeflowSettings, name: str, cronjob_name: str) -> dict[str, Any]:
    meta = provenance.metadata(plan, name, settings.namespace)
    meta["labels"] = {**meta["labels"], "mlspec.dev/retraining-trigger": "true"}  # type: ignore[dict-item]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"trigger.json": json.dumps(trigger_config(plan, cronjob_name), indent=2, sort_keys=True) + "\n"},
    }
