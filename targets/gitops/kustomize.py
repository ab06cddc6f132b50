"""The kustomizations this target adds: missing folder ones, one per app, and the repository root's."""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from targets.gitops.layout import App

API_VERSION = "kustomize.config.k8s.io/v1beta1"

# Argo CD applies lower waves first and waits for them to be healthy. Identity and configuration
# (the ServiceAccount the predictor runs as, the runner ConfigMaps) and the alert rules go before the
# workload, so an InferenceService never starts without its ServiceAccount or unwatched; what routes
# traffic to it (mirroring route, event source) goes after it.
SYNC_WAVES: dict[str, str] = {
    "ServiceAccount": "-1",
    "ConfigMap": "-1",
    "Secret": "-1",
    "PrometheusRule": "-1",
    "VirtualService": "1",
    "HTTPRoute": "1",
    "KafkaSource": "1",
}
SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def kustomization(resources: Iterable[str], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Kustomization", "resources": sorted(resources), **extra}


@functools.lru_cache(maxsize=65536)  # 1,000 models ask 4,000 times a render
def relative(path: str, start: str) -> str:
    """posixpath.relpath for the tree's own paths (relative, normalized), without its abspath and
    getcwd calls: those were most of the gitops target's time after one spec changed."""
    parts, base = path.split("/"), start.split("/")
    if "" in parts or "" in base or any(p in (".", "..") for p in (*parts, *base)):
        return posixpath.relpath(path, start)
    common = 0
    for a, b in zip(parts, base, strict=False):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(base) - common) + parts[common:]) or "."


def wave_patches(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Strategic-merge patches that add the sync-wave annotation by kind (kustomize ignores the name)."""
    kinds: dict[str, str] = {}
    for obj in objects:
        kind = str(obj["kind"])
        if kind in SYNC_WAVES:
            kinds.setdefault(kind, str(obj["apiVersion"]))
    patches = []
    for kind, api in sorted(kinds.items()):
        group, _, version = api.rpartition("/")
        target: dict[str, str] = {"kind": kind, "version": version}
        if group:
            target["group"] = group
        patch = (f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: any\n"
                 f"  annotations:\n    {SYNC_WAVE}: \"{SYNC_WAVES[kind]}\"\n")
        patches.append({"target": target, "patch": patch})
    return patches


def app_kustomization(app: App, waves: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if waves:
        patches = wave_patches(app.objects)
        if patches:
            extra["patches"] = patches
    return kustomization((relative(b, app.path) for b in app.bases), **extra)
