"""`mlspec render --out -`: the Kubernetes objects a GitOps engine would apply, as one YAML stream.

Like `helm template`: only Kubernetes objects, in a stable order (kustomization order: each folder's
`resources` as listed), built in memory from the render without writing anything, so it runs in a
read-only checkout (Argo CD's Config Management Plugin sidecar). The objects are the ones the rendered
kustomizations select, so rule files, promtool tests, pipeline IR and inactive rollout stages stay out.

Only the kustomization features mlspec's own targets write are understood: `resources`, `namespace`
and `patches` that add metadata annotations or labels by target. Anything else is refused (MLS292)
rather than applied differently from kustomize; tests/test_stream.py compares the stream with a real
`kustomize build` of the same folder.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Mapping
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic
from compiler.render.serialize import dump_yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KUSTOMIZATION = "kustomization.yaml"
_KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "patches"}
APP_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Where an engine object names the folder it applies: Argo CD Application, Flux Kustomization.
_APP_KINDS = {("argoproj.io", "Application"): ("spec", "source", "path"),
              ("kustomize.toolkit.fluxcd.io", "Kustomization"): ("spec", "path")}


class StreamError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic if diagnostic.file else diagnostic.at("mlspec render --out -", 0, 0)


def _docs(files: Mapping[str, bytes], path: str) -> list[Any]:
    return [d for d in yaml.load_all(files[path], Loader=_Loader) if d is not None]


def app_folder(files: Mapping[str, bytes], name: str) -> str:
    """The folder the Argo CD Application or Flux Kustomization called `name` applies."""
    if not APP_NAME.fullmatch(name) or len(name) > 253:
        raise StreamError(Diagnostic("MLS291", f"{name!r} is not an app name",
                                     hint="an Argo CD Application or Flux Kustomization name, e.g. "
                                          "fraud-detector-production"))
    found: list[str] = []
    for path in sorted(files):
        if not path.endswith((".yaml", ".yml")) or not path.startswith("gitops/"):
            continue
        for doc in _docs(files, path):
            if not isinstance(doc, dict) or (doc.get("metadata") or {}).get("name") != name:
                continue
            where = _APP_KINDS.get((str(doc.get("apiVersion", "")).rpartition("/")[0], str(doc.get("kind"))))
            value: Any = doc
            for key in where or ():
                value = value.get(key) if isinstance(value, dict) else None
            if where and isinstance(value, str):
                found.append(posixpath.normpath(value.removeprefix("./")))
    if not found:
        raise StreamError(Diagnostic("MLS291", f"no Argo CD Application or Flux Kustomization named {name!r} "
                                               "in the render", hint="see gitops/argocd/applications/ or "
                                               "gitops/flux/kustomizations/ in a rendered tree for the names"))
    return found[0]


def objects(files: Mapping[str, bytes], folder: str = "") -> list[dict[str, Any]]:
    """The objects `kustomize build <folder>` yields from the rendered files, in kustomization order."""
    start = posixpath.normpath(folder) if folder else "."
    if posixpath.join(start, KUSTOMIZATION).removeprefix("./") not in files:
        raise StreamError(Diagnostic(
            "MLS290", f"the render has no {posixpath.join(start, KUSTOMIZATION).removeprefix('./')}",
            hint="`--out -` follows the kustomizations the gitops target writes; is it disabled in mlspec.yaml?"))
    seen: set[str] = set()
    return _build(files, start, seen)


def _build(files: Mapping[str, bytes], folder: str, seen: set[str]) -> list[dict[str, Any]]:
    rel = posixpath.join(folder, KUSTOMIZATION).removeprefix("./")
    if rel in seen:
        raise StreamError(Diagnostic("MLS292", f"{rel} is included twice (a cycle or a shared base)"))
    seen.add(rel)
    doc = _docs(files, rel)[0]
    unknown = sorted(set(doc) - _KNOWN_FIELDS)
    if unknown:
        raise StreamError(Diagnostic("MLS292", f"{rel} uses {', '.join(unknown)}, which `--out -` does not apply",
                                     hint="render into a directory and run `kustomize build` instead"))
    out: list[dict[str, Any]] = []
    for entry in doc.get("resources") or []:
        target = posixpath.normpath(posixpath.join(folder, str(entry)))
        if target in files:
            out.extend(copy.deepcopy(d) for d in _docs(files, target))
        elif posixpath.join(target, KUSTOMIZATION) in files:
            out.extend(_build(files, target, seen))
        else:
            raise StreamError(Diagnostic("MLS292", f"{rel} lists {entry!r}, which the render does not contain"))
    namespace = doc.get("namespace")
    for obj in out:
        if namespace:
            obj.setdefault("metadata", {})["namespace"] = namespace
    for patch in doc.get("patches") or []:
        _patch(out, patch, rel)
    return out


def _patch(out: list[dict[str, Any]], patch: Mapping[str, Any], rel: str) -> None:
    target = patch.get("target") or {}
    body = yaml.load(str(patch.get("patch", "")), Loader=_Loader)
    meta = body.get("metadata") if isinstance(body, dict) else None
    if set(target) - {"group", "version", "kind", "name"} or not isinstance(meta, dict) \
            or set(body) - {"apiVersion", "kind", "metadata"} or set(meta) - {"name", "annotations", "labels"}:
        raise StreamError(Diagnostic("MLS292", f"{rel} has a patch `--out -` does not apply "
                                               "(only metadata annotations and labels by target)"))
    for obj in out:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        facts = {"group": group, "version": version, "kind": obj.get("kind"),
                 "name": (obj.get("metadata") or {}).get("name")}
        if all(re.fullmatch(str(want), str(facts[key])) for key, want in target.items()):
            for field in ("annotations", "labels"):
                if meta.get(field):
                    obj["metadata"].setdefault(field, {}).update(meta[field])


def to_yaml(found: list[dict[str, Any]]) -> str:
    return dump_yaml(found)


def render_stream(paths: list[Any] | None, app: str | None, jobs: int | None = None) -> tuple[str | None, Any]:
    """Render in memory and return (the YAML stream, the run result); None when nothing can be streamed.

    The rollout stages come from the spec repository's own `.mlspec/rollout/` when it has one (a team
    rendering in the cluster commits the rollout state next to its specs); otherwise each rollout is at
    its first stage, as in a fresh `render --out DIR`.
    """

    from compiler.language.specfiles import run_root
    from compiler.ledger.state import load_states
    from compiler.pipeline import run

    root = run_root(paths)
    result = run(paths, render=True, jobs=jobs, rollout_state=load_states(root))
    if not result.ok:
        return None, result
    files = result.files()
    try:
        folder = app_folder(files, app) if app else ""
        return to_yaml(objects(files, folder)), result
    except StreamError as exc:
        result.extra.append(exc.diagnostic)
        return None, result
