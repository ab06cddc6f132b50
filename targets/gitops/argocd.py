"""Argo CD objects: an AppProject per team, an Application per model and environment, a root app.

Applications rather than one ApplicationSet: mlspec already knows every app, its team and its paths at
render time, so it writes them as plain objects that the CRD validator and code review see, that
`mlspec rollout` can name for a sync request, and whose per-app `manifest-generate-paths` are exact.
An ApplicationSet generator would rediscover the same folders in the cluster, where a mistake shows
only after the controller has acted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from targets.gitops.layout import App, engine_labels, tenants
from targets.gitops.settings import GitOpsSettings

API = "argoproj.io/v1alpha1"
ROOT = "mlspec-root"
ROOT_PROJECT = "mlspec"
GENERATE_PATHS = "argocd.argoproj.io/manifest-generate-paths"
DIR = "gitops/argocd"


def _whitelist(objects: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    kinds = {(str(o["apiVersion"]).rpartition("/")[0], str(o["kind"])) for o in objects}
    return [{"group": g, "kind": k} for g, k in sorted(kinds)]


def application(app: App, project: str, settings: GitOpsSettings) -> dict[str, Any]:
    # Absolute paths (leading '/') are relative to the repository root: a commit touching only another
    # model's or environment's folders does not refresh this app.
    paths = ";".join("/" + p for p in (app.path, *app.bases))
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": {
            "name": app.name,
            "namespace": settings.engine_namespace,
            "labels": engine_labels(**{"mlspec.dev/model": app.model, "mlspec.dev/team": app.team,
                                 "mlspec.dev/environment": app.environment or ""}),
            "annotations": {GENERATE_PATHS: paths},
            # Deleting the Application (its spec was removed) deletes what it deployed.
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": project,
            "source": {"repoURL": settings.repo_url, "targetRevision": settings.revision, "path": app.path},
            "destination": {"server": settings.server, "namespace": app.namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def project(name: str, description: str, namespaces: Sequence[str], objects: Sequence[Mapping[str, Any]],
            settings: GitOpsSettings) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": settings.engine_namespace, "labels": engine_labels()},
        "spec": {
            "description": description,
            "sourceRepos": [settings.repo_url],
            "destinations": [{"server": settings.server, "namespace": ns} for ns in sorted(set(namespaces))],
            # Namespaced kinds mlspec renders, and no cluster-scoped ones at all.
            "clusterResourceWhitelist": [],
            "namespaceResourceWhitelist": _whitelist(objects),
        },
    }


def root_application(settings: GitOpsSettings) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": {"name": ROOT, "namespace": settings.engine_namespace, "labels": engine_labels(),
                     "annotations": {GENERATE_PATHS: "/" + DIR}},
        "spec": {
            "project": ROOT_PROJECT,
            "source": {"repoURL": settings.repo_url, "targetRevision": settings.revision, "path": DIR},
            "destination": {"server": settings.server, "namespace": settings.engine_namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def objects(apps: Sequence[App], policy: Mapping[str, Sequence[str]],
            settings: GitOpsSettings) -> dict[str, dict[str, Any]]:
    """File path -> object, for every Argo CD object."""
    out: dict[str, dict[str, Any]] = {}
    project_of: dict[str, str] = {}
    for tenant in tenants(apps, policy, settings.platformProject):
        shared = tenant.name == settings.platformProject
        description = ("mlspec objects in shared platform namespaces (pipeline schedules)" if shared
                       else f"Models of team {tenant.name}, rendered by mlspec")
        out[f"{DIR}/projects/{tenant.name}.yaml"] = project(tenant.name, description, tenant.namespaces,
                                                             tenant.objects, settings)
        for app in tenant.apps:
            project_of[app.name] = tenant.name
    for app in apps:
        out[f"{DIR}/applications/{app.name}.yaml"] = application(app, project_of[app.name], settings)
    out[f"{DIR}/projects/{ROOT_PROJECT}.yaml"] = project(
        ROOT_PROJECT, "The root app: mlspec's Applications and AppProjects", [settings.engine_namespace],
        [{"apiVersion": API, "kind": k} for k in ("AppProject", "Application")], settings)
    out[f"{DIR}/root.yaml"] = root_application(settings)
    return out
