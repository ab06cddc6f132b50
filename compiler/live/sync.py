"""Ask the GitOps engine to apply a rollout commit now instead of at its next poll (Argo CD: 3 minutes).

Called by `mlspec rollout` after it pushed a commit. The engine objects are found in the deployment
repository itself (gitops/, written by the gitops target) by their `mlspec.dev/model` and
`mlspec.dev/environment` labels:
- Argo CD Application: annotate `argocd.argoproj.io/refresh: normal`; the application controller
  re-reads git and its automated sync policy applies the new revision.
- Flux Kustomization: annotate its GitRepository and then it with `reconcile.fluxcd.io/requestedAt`
  (what `flux reconcile kustomization --with-source` does), so the source fetches the commit first.
- `targets.gitops.webhook` set: POST a JSON event there instead (a relay, CI job or the engine's webhook).
Failing to ask never undoes the commit: it is reported, and the engine still applies it at its next poll.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REFRESH = "argocd.argoproj.io/refresh"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLURALS = {"Application": "applications", "Kustomization": "kustomizations", "GitRepository": "gitrepositories"}
_GROUPS = {"Application": "argoproj.io", "Kustomization": "kustomize.toolkit.fluxcd.io",
           "GitRepository": "source.toolkit.fluxcd.io"}
LATER = "the engine applies the commit at its next poll"


@dataclass(frozen=True, slots=True)
class EngineObject:
    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def engine_objects(tree: Path, model: str, environment: str) -> list[EngineObject]:
    """The Application, or the GitRepository and Kustomization, that apply `model` in `environment`."""
    found: list[EngineObject] = []
    sources: list[EngineObject] = []
    root = tree / "gitops"
    for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
        try:
            docs = list(yaml.load_all(path.read_bytes(), Loader=_Loader))
        except (OSError, yaml.YAMLError):
            continue
        for doc in docs:
            if not isinstance(doc, Mapping) or doc.get("kind") not in ("Application", "Kustomization"):
                continue
            api, meta = str(doc.get("apiVersion", "")), doc.get("metadata") or {}
            if api.rpartition("/")[0] != _GROUPS[str(doc["kind"])]:
                continue
            labels = meta.get("labels") or {}
            if labels.get("mlspec.dev/model") != model or labels.get("mlspec.dev/environment") != environment:
                continue
            namespace = str(meta.get("namespace", ""))
            found.append(EngineObject(api, str(doc["kind"]), namespace, str(meta.get("name", ""))))
            ref = (doc.get("spec") or {}).get("sourceRef") or {}
            if doc["kind"] == "Kustomization" and ref.get("kind") == "GitRepository":
                sources.append(EngineObject("source.toolkit.fluxcd.io/v1", "GitRepository",
                                            str(ref.get("namespace") or namespace), str(ref.get("name", ""))))
    return [*dict.fromkeys(sources), *found]


def _import_client() -> None:
    try:
        import kubernetes.client
        import kubernetes.config  # noqa: F401
    except Exception:  # reported by request_sync when it needs the client
        return


def warm_up(settings: Mapping[str, Any]) -> None:
    """Import the kubernetes client in the background while the rollout commit is rendered and pushed.

    The import costs 0.25 s on an idle machine and over a second on a loaded one; done in parallel, the
    sync request goes out right after the push instead of after the import.
    """
    if settings.get("webhook") or str(settings.get("engine", "argocd")) == "none":
        return
    threading.Thread(target=_import_client, name="mlspec-kube-import", daemon=True).start()


def _annotation(obj: EngineObject) -> dict[str, Any]:
    if obj.kind == "Application":
        value = "normal"
        key = REFRESH
    else:
        value = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        key = REQUESTED_AT
    return {"metadata": {"annotations": {key: value}}}


def _webhook(url: str, event: dict[str, Any], timeout: float) -> str:
    request = urllib.request.Request(url, data=json.dumps(event, sort_keys=True).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "mlspec-rollout"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"sync: webhook answered HTTP {exc.code}; {LATER}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"sync: webhook failed ({type(exc).__name__}: {getattr(exc, 'reason', exc)}); {LATER}"
    return f"sync: webhook answered HTTP {status} in {(time.monotonic() - start) * 1000:.0f} ms"


def request_sync(tree: Path, settings: Mapping[str, Any], model: str, environment: str, sha: str | None,
                 *, context: str | None = None, timeout: float = 10.0) -> list[str]:
    """Ask for a sync now; one line per request. Never raises: the commit is already published."""
    context = context or os.environ.get("MLSPEC_KUBE_CONTEXT") or None
    try:
        objects = engine_objects(tree, model, environment)
        webhook = str(settings.get("webhook") or "")
        if webhook:
            return [_webhook(webhook, {"event": "mlspec.rollout", "model": model, "environment": environment,
                                       "commit": sha, "apps": [o.name for o in objects]}, timeout)]
        if str(settings.get("engine", "argocd")) == "none":
            return []
        if not objects:
            return [f"sync: no Argo CD Application or Flux Kustomization for {model} in {environment} under "
                    f"gitops/; {LATER}"]
        return _patch_all(objects, context, timeout)
    except Exception as exc:  # a sync request must never turn a published rollout into a failure
        return [f"sync: not requested ({type(exc).__name__}: {exc}); {LATER}"]


def _patch_all(objects: list[EngineObject], context: str | None, timeout: float) -> list[str]:
    from compiler.live.kubeclient import KubeError, api_client, describe

    try:
        api = api_client(context)
    except KubeError as exc:
        return [f"sync: not requested: {exc}; {LATER}"]
    from kubernetes import client

    custom = client.CustomObjectsApi(api)
    lines = []
    for obj in objects:
        start = time.monotonic()
        try:
            custom.patch_namespaced_custom_object(obj.group, obj.version, obj.namespace, _PLURALS[obj.kind],
                                                  obj.name, _annotation(obj), _request_timeout=timeout)
        except Exception as exc:  # ApiException, urllib3 transport errors: reported, never raised
            lines.append(f"sync: {obj}: {describe(exc)}; {LATER}")
            continue
        lines.append(f"sync: requested {obj} in {(time.monotonic() - start) * 1000:.0f} ms")
    api.close()
    return lines
