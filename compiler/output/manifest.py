"""The manifest of a rendered tree: what mlspec owns there and what it was rendered from.

Per spec: source and plan digests; per file: sha256, target, owning spec and resource identities.
It makes `render --check`, orphan removal and drift detection cheap and exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.output.writer import MANIFEST
from compiler.pipeline import RunResult
from compiler.planning.plan import Plan
from compiler.render.serialize import dump_json

PROJECT_OWNER = "<project>"


@dataclass(slots=True)
class Manifest:
    compiler: str = __version__
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return dump_json({"compiler": self.compiler, "specs": self.specs, "files": self.files})


def load_manifest(root: Path) -> Manifest | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Manifest(data.get("compiler", ""), dict(data.get("specs", {})), dict(data.get("files", {})))
    except (ValueError, AttributeError):
        return None


def build_manifest(result: RunResult, previous: Manifest | None = None, *, full: bool = True) -> Manifest:
    """The manifest after writing `result`; a partial render keeps the other specs' entries."""
    manifest = Manifest()
    rendered = {s.rel_path for s in result.specs}
    if previous is not None and not full:
        manifest.specs = {k: v for k, v in previous.specs.items() if k not in rendered}
        manifest.files = {k: v for k, v in previous.files.items()
                          if v.get("spec") not in rendered and v.get("spec") != PROJECT_OWNER}
    for spec in result.specs:
        if spec.plan is None:
            continue
        manifest.specs[spec.rel_path] = spec_entry(spec.plan)
        for path, content in spec.files.items():
            manifest.files[path] = entry(content, spec.file_targets[path], spec.rel_path,
                                          spec.file_resources.get(path, []))
    for path, content in result.project_files.items():
        manifest.files[path] = entry(content, result.project_file_targets[path], PROJECT_OWNER,
                                      result.project_file_resources.get(path, []))
    if previous is not None and not full:
        for path, info in previous.files.items():
            if info.get("spec") == PROJECT_OWNER and path not in manifest.files:
                manifest.files[path] = info  # project files need every spec; a partial render keeps them
    manifest.files = dict(sorted(manifest.files.items()))
    manifest.specs = dict(sorted(manifest.specs.items()))
    return manifest


def spec_entry(plan: Plan) -> dict[str, Any]:
    prov = plan.provenance
    return {
        "name": plan.name, "source_sha256": prov.source_sha256, "spec_digest": prov.spec_digest,
        "plan_digest": plan.digest, "model_version": prov.model_version, "data_hash": prov.data_hash,
    }


def entry(content: bytes, target: str, spec: str, resources: list[dict[str, str]]) -> dict[str, Any]:
    return file_entry(hashlib.sha256(content).hexdigest(), target, spec, resources)


def file_entry(sha256: str, target: str, spec: str, resources: list[dict[str, str]]) -> dict[str, Any]:
    """A file's manifest entry from its digest (a staged file's bytes are not in memory)."""
    entry: dict[str, Any] = {"sha256": sha256, "target": target, "spec": spec}
    if resources:
        entry["resources"] = resources
    return entry
