"""Drift between a deployment tree, its manifest and the specs (GUIDE §2).

- outdated: the spec's current plan digest differs from the one the tree was rendered from (or the
  spec was never rendered there);
- modified: a managed file's sha256 differs from the manifest (hand-edited), in the working tree or,
  for `mlspec commit`, in the committed HEAD;
- missing: a managed file is gone;
- orphaned: a file under a directory mlspec manages that the manifest does not list, or a manifest
  entry whose spec no longer exists;
- ledger: the rollout state or audit log disagrees with itself, with HEAD or with the rollout commits'
  trailers (compiler.ledger.verify): hand-written, edited, truncated or deleted rollout records.

Only plan digests are compared for specs, never rendered text or timestamps, so a formatting-only
edit of a spec is not drift.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from compiler.deploy.resources import header
from compiler.diagnostics import Diagnostic
from compiler.language.specfiles import STATE_DIR
from compiler.output.manifest import Manifest
from compiler.pipeline import RunResult

KINDS = ("outdated", "modified", "missing", "orphaned", "ledger")


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str  # one of KINDS
    path: str  # a file of the deployment tree, or a spec path for spec-level findings
    spec: str = ""
    detail: str = ""
    where: str = "working tree"  # or "HEAD"
    resources: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["resources"] = [dict(r) for r in self.resources]
        return data


@dataclass(slots=True)
class DriftReport:
    items: list[Drift] = field(default_factory=list)

    def of(self, kind: str) -> list[Drift]:
        return [d for d in self.items if d.kind == kind]

    @property
    def modified(self) -> list[Drift]:
        return self.of("modified")

    def to_text(self) -> str:
        if not self.items:
            return "no drift"
        lines = []
        for item in self.items:
            where = f" [{item.where}]" if item.where != "working tree" else ""
            detail = f": {item.detail}" if item.detail else ""
            lines.append(f"{item.kind:9} {item.path}{where}{detail}")
            lines.extend(f"            {header(r)}" for r in item.resources)
        counts = ", ".join(f"{len(self.of(k))} {k}" for k in KINDS)
        lines.append(f"drift: {counts}")
        return "\n".join(lines)

    def to_json(self) -> str:
        counts = {k: len(self.of(k)) for k in KINDS}
        return json.dumps({"summary": counts, "drift": [d.to_json() for d in self.items]}, indent=2,
                          sort_keys=True)


def _resources(info: Mapping[str, Any]) -> tuple[Mapping[str, str], ...]:
    found = info.get("resources") or []
    return tuple(r for r in found if isinstance(r, dict))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_drift(root: Path, manifest: Manifest) -> list[Drift]:
    """Modified, missing and orphaned files of the working tree at `root`."""
    items: list[Drift] = []
    for rel, info in sorted(manifest.files.items()):
        path = root / rel
        spec = str(info.get("spec", ""))
        if not path.is_file():
            items.append(Drift("missing", rel, spec, "listed in the manifest, not in the tree",
                               resources=_resources(info)))
        elif sha256(path.read_bytes()) != info.get("sha256"):
            items.append(Drift("modified", rel, spec, "content differs from what mlspec rendered (hand-edited?)",
                               resources=_resources(info)))
    for rel in unlisted_files(root, manifest):
        items.append(Drift("orphaned", rel, detail="in a directory mlspec manages, not in the manifest"))
    return items


def committed_drift(manifest: Manifest, blobs: Mapping[str, bytes]) -> list[Drift]:
    """Managed files whose committed content differs from the committed manifest."""
    items = []
    for rel, info in sorted(manifest.files.items()):
        data = blobs.get(rel)
        if data is not None and sha256(data) != info.get("sha256"):
            items.append(Drift("modified", rel, str(info.get("spec", "")),
                               "committed content differs from what mlspec rendered", "HEAD", _resources(info)))
    return items


def managed_dirs(manifest: Manifest) -> tuple[set[str], set[str]]:
    """Directories mlspec owns: whole top-level trees (models/, <target>/) and exact hidden directories.

    A hidden top-level directory such as .github/ also holds the user's own files, so only the exact
    directories mlspec writes into are owned there, not their subdirectories or siblings.
    """
    trees: set[str] = set()
    exact: set[str] = set()
    for rel in manifest.files:
        parts = PurePosixPath(rel).parts
        if len(parts) < 2:
            continue
        if parts[0].startswith("."):
            exact.add(str(PurePosixPath(*parts[:-1])))
        else:
            trees.add(parts[0])
    return trees, exact


def unlisted_files(root: Path, manifest: Manifest) -> list[str]:
    trees, exact = managed_dirs(manifest)
    found: set[str] = set()
    for top in trees:
        base = root / top
        if base.is_dir():
            found.update(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file() or p.is_symlink())
    for directory in exact:
        base = root / directory
        if base.is_dir():
            found.update(p.relative_to(root).as_posix() for p in base.iterdir() if p.is_file() or p.is_symlink())
    return sorted(p for p in found if p not in manifest.files and not p.startswith(f"{STATE_DIR}/"))


def spec_drift(manifest: Manifest, result: RunResult, spec_root: Path, *, full: bool) -> list[Drift]:
    """Outdated specs (plan digest changed or never rendered) and manifest entries of deleted specs."""
    items = []
    owned: dict[str, list[str]] = {}
    for rel, info in manifest.files.items():
        owned.setdefault(str(info.get("spec", "")), []).append(rel)
    for spec in result.specs:
        if spec.plan is None:
            continue
        entry = manifest.specs.get(spec.rel_path)
        if entry is None:
            items.append(Drift("outdated", spec.rel_path, spec.rel_path, "never rendered into this tree"))
        elif entry.get("plan_digest") != spec.plan.digest:
            items.append(Drift("outdated", spec.rel_path, spec.rel_path,
                               f"spec changed since it was rendered (plan {str(entry.get('plan_digest'))[:12]} -> "
                               f"{spec.plan.digest[:12]}); files: {len(owned.get(spec.rel_path, []))}"))
    if full:
        current = {s.rel_path for s in result.specs}
        for rel in sorted(manifest.specs):
            if rel not in current and not (spec_root / rel).is_file():
                items.append(Drift("orphaned", rel, rel, "the spec no longer exists"))
                for path in sorted(owned.get(rel, [])):
                    items.append(Drift("orphaned", path, rel, f"rendered from deleted spec {rel}",
                                       resources=_resources(manifest.files[path])))
    return items


def order(items: Iterable[Drift]) -> list[Drift]:
    return sorted(items, key=lambda d: (KINDS.index(d.kind), d.path, d.where))


def report(*groups: Sequence[Drift]) -> DriftReport:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for item in order(i for group in groups for i in group):
        key = (item.kind, item.path, item.where)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return DriftReport(out)


def find_drift(tree: Path, paths: Sequence[Path] | None = None, *, root: Path | None = None,
               registry: Any = None) -> tuple[DriftReport | None, list[Diagnostic]]:
    """All drift of the rendered tree `tree` against the specs (default: the project's specs/)."""
    from compiler.output.manifest import load_manifest
    from compiler.pipeline import run

    manifest = load_manifest(tree)
    if manifest is None:
        return None, []
    result = run(paths, root=root, render=False, registry=registry)
    found = [*file_drift(tree, manifest), *spec_drift(manifest, result, result.context.root, full=not paths)]
    if (tree / ".git").exists():
        found += ledger_drift(tree)
    return report(found), result.diagnostics


def ledger_drift(tree: Path) -> list[Drift]:
    """Rollout records that git history does not vouch for (compiler.ledger.verify)."""
    from compiler.deploy import history
    from compiler.deploy import repo as git_ops

    return [Drift("ledger", p.path, detail=p.detail, where=p.where)
            for p in history.problems(git_ops.open_repo(tree))]
