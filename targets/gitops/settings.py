"""`targets.gitops` in mlspec.yaml: which GitOps engine applies the deployment repository, and where from.

Every field has a default so the target works without a project file; without `repoURL` the engine
objects point at a placeholder and the render warns (OPS001).
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Go durations as Flux reads them (`5m`, `1h30m`, `30s`).
_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
# A git URL Argo CD and Flux accept: https/ssh URL or scp-like `git@host:path`. No whitespace, no quotes.
_REPO_URL = re.compile(r"(https?|ssh|git)://[^\s\"'`$\\]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s\"'`$\\]+")
_REVISION = re.compile(r"[A-Za-z0-9._/-]{1,250}")
PLACEHOLDER_REPO = "https://git.invalid/deployment.git"


class GitOpsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["argocd", "flux", "none"] = Field(
        "argocd", description="The GitOps engine that applies the deployment repository; `none` writes only "
                              "the kustomizations.")
    repoURL: str = Field("", description="Git URL of the deployment repository, as the engine clones it.")
    revision: str = Field("main", description="Branch (or tag) of the deployment repository the engine follows.")
    namespace: str = Field("", description="Namespace of the engine's own objects "
                                           "(default: argocd for Argo CD, flux-system for Flux).")
    server: str = Field("https://kubernetes.default.svc",
                        description="Argo CD destination cluster API URL (the cluster Argo CD runs in by default).")
    interval: str = Field("5m", description="Flux reconcile interval of the GitRepository and Kustomizations.")
    platformProject: str = Field(
        "mlspec-platform", description="Argo CD project of the objects outside the teams' namespaces (the "
                                       "Kubeflow schedules in the platform's pipelines namespace).")
    secretName: str = Field("", description="Flux: Secret with the deployment repository's credentials "
                                            "(GitRepository spec.secretRef); Argo CD keeps them in its repo settings.")
    webhook: str = Field("", description="URL that `mlspec rollout` POSTs to after pushing a rollout commit, "
                                         "instead of annotating the engine's object (e.g. Argo CD's /api/webhook).")

    @field_validator("namespace", "platformProject", "secretName")
    @classmethod
    def _label(cls, value: str) -> str:
        if value and (not _DNS_LABEL.fullmatch(value) or len(value) > 63):
            raise ValueError(f"{value!r} is not a DNS-1123 label")
        return value

    @field_validator("repoURL")
    @classmethod
    def _repo(cls, value: str) -> str:
        if value and not _REPO_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not a git URL (https://, ssh:// or git@host:path)")
        return value

    @field_validator("revision")
    @classmethod
    def _revision(cls, value: str) -> str:
        if not _REVISION.fullmatch(value) or ".." in value:
            raise ValueError(f"{value!r} is not a branch or tag name")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not _DURATION.fullmatch(value):
            raise ValueError(f"{value!r} is not a Go duration such as 5m or 1h")
        return value

    @field_validator("server", "webhook")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s\"'`$\\]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @property
    def engine_namespace(self) -> str:
        return self.namespace or ("flux-system" if self.engine == "flux" else "argocd")

    @property
    def repo_url(self) -> str:
        return self.repoURL or PLACEHOLDER_REPO
