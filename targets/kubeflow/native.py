"""Pipeline and PipelineVersion objects for KFP's Kubernetes-native pipeline store (KFP >= 2.14)."""

from __future__ import annotations

import hashlib
from typing import Any

from compiler.planning.plan import Plan, canonical_json
from compiler.render import provenance
from targets.kubeflow.ir import RenderedPipeline
from targets.kubeflow.settings import KubeflowSettings

API_VERSION = "pipelines.kubeflow.org/v2beta1"


def content_digest(pipeline: RenderedPipeline) -> str:
    return hashlib.sha256(canonical_json(pipeline.documents).encode()).hexdigest()


def version_name(pipeline: RenderedPipeline) -> str:
    """PipelineVersions are immutable: a new content gets a new name, never an edit of the old one."""
    return f"{pipeline.name}-{content_digest(pipeline)[:12]}"


def objects(plan: Plan, settings: KubeflowSettings, pipeline: RenderedPipeline) -> list[dict[str, Any]]:
    ns = settings.namespace
    version = version_name(pipeline)
    version_meta = provenance.metadata(plan, version, ns)
    version_meta["annotations"] = {
        **version_meta["annotations"],  # type: ignore[dict-item]
        "mlspec.dev/pipeline-digest": f"sha256:{content_digest(pipeline)}",
    }
    spec: dict[str, Any] = {
        "codeSourceURL": f"{plan.model.code_repo}/tree/{plan.model.code_commit}"
        if plan.model.code_repo.startswith("https://") else plan.model.code_repo,
        "description": f"model version {plan.model.version}, data {plan.data.hash}",
        "displayName": version,
        "pipelineName": pipeline.name,
        "pipelineSpec": pipeline.ir,
    }
    if pipeline.platform is not None:
        spec["platformSpec"] = pipeline.platform
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "Pipeline",
            "metadata": provenance.metadata(plan, pipeline.name, ns),
            "spec": {"description": plan.description[:1000], "displayName": pipeline.name},
        },
        {"apiVersion": API_VERSION, "kind": "PipelineVersion", "metadata": version_meta, "spec": spec},
    ]
