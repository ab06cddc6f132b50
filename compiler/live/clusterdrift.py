"""`mlspec drift --cluster`: every rendered object against the live cluster, through the kubernetes client.

Per object: **missing** (not in the cluster, or its kind is not served), **changed** (a field mlspec sets
has another live value; server defaults, `status`, `managedFields` and other server metadata are not
fields mlspec sets, so they never count, as in `argocd app diff`), and **orphaned**: live objects of the
rendered kinds labelled `app.kubernetes.io/managed-by=mlspec` that no spec renders. The objects are the
ones the engine applies (`render --out -`, compiler.output.stream), at the rollout stages recorded in `--repo`.

Exit contract of `drift`: 0 no drift, 1 drift, 2 errors (specs with errors, no cluster, refused reads).
The client is imported only here, when `--cluster` is used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic

MANAGED = "app.kubernetes.io/managed-by=mlspec"
_META_COMPARED = ("labels", "annotations")


@dataclass(slots=True)
class Finding:
    state: str  # missing | changed | orphaned
    api_version: str
    kind: str
    namespace: str
    name: str
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field path, rendered, live)
    note: str = ""

    @property
    def header(self) -> str:
        group = self.api_version.rpartition("/")[0] or "core"
        return f"{self.namespace or '-'}, {self.name}, {self.kind} ({group})"

    def to_data(self) -> dict[str, Any]:
        return {"state": self.state, "apiVersion": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name, "note": self.note,
                "changes": [{"path": p, "rendered": d, "live": v} for p, d, v in self.changes]}


@dataclass(slots=True)
class ClusterDrift:
    checked: int
    findings: list[Finding]

    def to_text(self) -> str:
        lines = [f"cluster drift: {len(self.findings)} finding(s) in {self.checked} rendered object(s)"]
        for found in self.findings:
            lines.append(f"{found.state:9} {found.header}" + (f": {found.note}" if found.note else ""))
            for path, rendered, live in found.changes:
                lines.append(f"  ~ {path}: {_show(rendered)} -> {_show(live)} (live)")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps({"checked": self.checked, "findings": [f.to_data() for f in self.findings]},
                          indent=2, sort_keys=True) + "\n"


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True)


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def compare(rendered: Any, live: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The fields `rendered` sets whose live value differs; fields only the server set are ignored."""
    if isinstance(rendered, Mapping):
        if not isinstance(live, Mapping):
            return [(path or ".", rendered, live)]
        out: list[tuple[str, Any, Any]] = []
        for key, value in rendered.items():
            sub = f"{path}.{key}" if path else str(key)
            if not path and key == "status":
                continue
            if not path and key == "metadata":
                meta_live = live.get("metadata") or {}
                for part in _META_COMPARED:
                    out.extend(compare(value.get(part) or {}, meta_live.get(part) or {}, f"metadata.{part}"))
                continue
            if key not in live:
                out.append((sub, value, _ABSENT))
            else:
                out.extend(compare(value, live[key], sub))
        return out
    if isinstance(rendered, list):
        if not isinstance(live, list):
            return [(path, rendered, live)]
        named = _by_name(rendered)
        if named is not None and _by_name(live) is not None:
            live_named = _by_name(live) or {}
            out = []
            for name, item in named.items():
                sub = f"{path}[name={name}]"
                out.extend(compare(item, live_named[name], sub) if name in live_named else [(sub, item, _ABSENT)])
            return out
        if len(rendered) != len(live):
            return [(path, rendered, live)]
        return [c for i, (r, v) in enumerate(zip(rendered, live, strict=True)) for c in compare(r, v, f"{path}[{i}]")]
    return [] if rendered == live else [(path, rendered, live)]


def _by_name(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items):
        return None
    names = [i["name"] for i in items]
    return dict(zip(names, items, strict=True)) if len(set(names)) == len(names) else None


def desired(files: Mapping[str, bytes], environment: str | None) -> list[dict[str, Any]]:
    """What the engine applies: the root kustomization (or one environment's apps) and the engine's objects."""
    import yaml

    from compiler.output.stream import KUSTOMIZATION, objects

    if environment is None:
        found = objects(files)
        for folder in ("gitops/argocd", "gitops/flux"):
            if f"{folder}/{KUSTOMIZATION}" in files:
                found.extend(objects(files, folder))
        return found
    root = yaml.safe_load(files.get(KUSTOMIZATION, b"{}")) or {}
    apps = [str(r) for r in root.get("resources") or [] if str(r).rstrip("/").endswith(f"/gitops/{environment}")]
    return [o for app in apps for o in objects(files, app)]


def _ident(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def check_cluster(rendered: Sequence[Mapping[str, Any]], context: str | None,
                  scope_namespaces: bool) -> tuple[ClusterDrift | None, list[Diagnostic]]:
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

    from compiler.live.kubeclient import KubeError, api_client, describe

    try:
        api = api_client(context)
    except KubeError as exc:
        return None, [Diagnostic("MLS293", f"cannot reach a cluster: {exc}",
                                 hint="set KUBECONFIG or --context, as for kubectl")]
    cache = tempfile.mkdtemp(prefix="mlspec-discovery-")  # the client's discovery cache, never shared
    findings: list[Finding] = []
    try:
        dyn = DynamicClient(api, cache_file=str(Path(cache) / "discovery.json"))
        kinds: dict[tuple[str, str], Any] = {}
        for obj in rendered:
            api_version, kind, namespace, name = _ident(obj)
            try:
                resource = kinds.get((api_version, kind)) or dyn.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                findings.append(Finding("missing", api_version, kind, namespace, name,
                                        note=f"the cluster does not serve {kind} ({api_version})"))
                continue
            kinds[(api_version, kind)] = resource
            try:
                live = dyn.get(resource, name=name, namespace=namespace or None).to_dict()
            except NotFoundError:
                findings.append(Finding("missing", api_version, kind, namespace, name))
                continue
            changes = compare(obj, live)
            if changes:
                findings.append(Finding("changed", api_version, kind, namespace, name, changes))
        wanted = {_ident(o) for o in rendered}
        namespaces = {_ident(o)[2] for o in rendered}
        for (api_version, kind), resource in sorted(kinds.items()):
            listed = dyn.get(resource, label_selector=MANAGED).to_dict()
            for item in listed.get("items") or []:
                item = {"apiVersion": api_version, "kind": kind, **item}
                ident = _ident(item)
                if ident in wanted or (scope_namespaces and ident[2] not in namespaces):
                    continue
                findings.append(Finding("orphaned", *ident, note="labelled managed-by mlspec; no spec renders it"))
    except Exception as exc:  # API refusals and transport errors are the environment, not a bug: exit 2
        if isinstance(exc, (KeyError, TypeError, AttributeError)):
            raise
        return None, [Diagnostic("MLS294", f"the API server refused or failed a read: {describe(exc)}",
                                 hint="check the kubeconfig user's RBAC: get and list on the rendered kinds")]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        api.close()
    order = {"missing": 0, "changed": 1, "orphaned": 2}
    findings.sort(key=lambda f: (order[f.state], f.api_version, f.kind, f.namespace, f.name))
    return ClusterDrift(len(rendered), findings), []


def find_cluster_drift(paths: list[Path] | None, repo: Path | None, context: str | None,
                       environment: str | None) -> tuple[ClusterDrift | None, list[Diagnostic]]:
    from compiler.ledger.state import load_states
    from compiler.output.stream import StreamError
    from compiler.pipeline import run

    result = run(paths, render=True, rollout_state=load_states(repo) if repo else None)
    if not result.ok:
        return None, result.diagnostics
    try:
        rendered = desired(result.files(), environment)
    except StreamError as exc:
        return None, [*result.diagnostics, exc.diagnostic]
    if environment is not None and not rendered:
        return None, [*result.diagnostics, Diagnostic("MLS295", f"no app renders environment {environment!r}")]
    found, problems = check_cluster(rendered, context, scope_namespaces=environment is not None)
    return found, [*result.diagnostics, *problems]


def run_command(paths: list[Path] | None, repo: Path | None, context: str | None, environment: str | None,
                fmt: str) -> int:
    """The CLI's side: print the report or the errors, return the exit code."""
    import click

    from compiler.diagnostics import format_diagnostics

    found, diags = find_cluster_drift(paths, repo, context, environment)
    errors = [d for d in diags if d.is_error]
    if errors or found is None:
        click.echo(format_diagnostics(errors, "text"), err=True)
        return 2
    click.echo(found.to_json() if fmt == "json" else found.to_text(), nl=False)
    return 1 if found.findings else 0
