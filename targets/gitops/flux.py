"""Flux objects: one GitRepository for the deployment repository, a Kustomization per app, and a root.

Each app's Kustomization builds the same folder an Argo CD Application would (`models/<m>/gitops/<x>`),
so both engines apply the same objects with the same scoping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from targets.gitops.layout import App
from targets.gitops.settings import GitOpsSettings

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE = "mlspec-deployment"
ROOT = "mlspec-root"
DIR = "gitops/flux"


def _labels(**extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "mlspec", **{k: v for k, v in extra.items() if v}}


def git_repository(settings: GitOpsSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {"url": settings.repo_url, "ref": {"branch": settings.revision},
                            "interval": settings.interval}
    if settings.secretName:
        spec["secretRef"] = {"name": settings.secretName}
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": SOURCE, "namespace": settings.engine_namespace, "labels": _labels()},
        "spec": spec,
    }


def kustomization(name: str, path: str, settings: GitOpsSettings, labels: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": settings.interval,
        "path": "./" + path,
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": SOURCE},
    }
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": settings.engine_namespace, "labels": labels},
        "spec": spec,
    }


def objects(apps: Sequence[App], settings: GitOpsSettings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {f"{DIR}/gitrepository.yaml": git_repository(settings)}
    for app in apps:
        labels = _labels(**{"mlspec.dev/model": app.model, "mlspec.dev/team": app.team,
                            "mlspec.dev/environment": app.environment or ""})
        out[f"{DIR}/kustomizations/{app.name}.yaml"] = kustomization(app.name, app.path, settings, labels)
    out[f"{DIR}/root.yaml"] = kustomization(ROOT, DIR, settings, _labels())
    return out
