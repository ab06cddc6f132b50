"""Flux objects: one GitRepository for the deployment repository, a Kustomization per app, and a root.

Each app's Kustomization builds the same folder an Argo CD Application would (`models/<m>/gitops/<x>`),
and applies it as its tenant: kustomize-controller impersonates the ServiceAccount `mlspec-<team>`
(`spec.serviceAccountName`), whose Roles allow exactly the kinds the team's apps render in exactly the
team's namespaces. That is Flux's form of the policy an Argo CD AppProject enforces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from targets.gitops.layout import App, Tenant, engine_labels, plural, tenants
from targets.gitops.settings import GitOpsSettings

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE = "mlspec-deployment"
ROOT = "mlspec-root"
DIR = "gitops/flux"


def git_repository(settings: GitOpsSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {"url": settings.repo_url, "ref": {"branch": settings.revision},
                            "interval": settings.interval}
    if settings.secretName:
        spec["secretRef"] = {"name": settings.secretName}
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": SOURCE, "namespace": settings.engine_namespace, "labels": engine_labels()},
        "spec": spec,
    }


def kustomization(name: str, path: str, settings: GitOpsSettings, labels: dict[str, str],
                  account: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": settings.interval,
        "path": "./" + path,
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": SOURCE},
    }
    if account:
        spec["serviceAccountName"] = account
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": settings.engine_namespace, "labels": labels},
        "spec": spec,
    }


VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def account(tenant: str) -> str:
    return tenant if tenant.startswith("mlspec-") else f"mlspec-{tenant}"


def tenant_objects(tenant: Tenant, settings: GitOpsSettings) -> list[dict[str, Any]]:
    """The tenant's ServiceAccount, and a Role and RoleBinding in each of its namespaces."""
    name = account(tenant.name)
    by_group: dict[str, list[str]] = {}
    for group, kind in tenant.kinds():
        by_group.setdefault(group, []).append(plural(kind))
    rules = [{"apiGroups": [g], "resources": sorted(r), "verbs": VERBS} for g, r in sorted(by_group.items())]
    labels = engine_labels(**{"mlspec.dev/team": tenant.name})
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": name, "namespace": settings.engine_namespace,
                                                "labels": labels}}]
    for ns in tenant.namespaces:
        meta: Mapping[str, Any] = {"name": name, "namespace": ns, "labels": labels}
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": dict(meta),
                     "rules": rules})
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(meta),
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                     "subjects": [{"kind": "ServiceAccount", "name": name,
                                   "namespace": settings.engine_namespace}]})
    return docs


def objects(apps: Sequence[App], policy: Mapping[str, Sequence[str]],
            settings: GitOpsSettings) -> dict[str, list[dict[str, Any]]]:
    """File path -> its documents, for every Flux object and the tenants' RBAC."""
    out: dict[str, list[dict[str, Any]]] = {f"{DIR}/gitrepository.yaml": [git_repository(settings)]}
    for tenant in tenants(apps, policy, settings.platformProject):
        out[f"{DIR}/tenants/{tenant.name}.yaml"] = tenant_objects(tenant, settings)
        for app in tenant.apps:
            labels = engine_labels(**{"mlspec.dev/model": app.model, "mlspec.dev/team": app.team,
                                "mlspec.dev/environment": app.environment or ""})
            out[f"{DIR}/kustomizations/{app.name}.yaml"] = [
                kustomization(app.name, app.path, settings, labels, account(tenant.name))]
    # The root runs as the controller itself: it creates the tenants' accounts and roles.
    out[f"{DIR}/root.yaml"] = [kustomization(ROOT, DIR, settings, engine_labels())]
    return out
