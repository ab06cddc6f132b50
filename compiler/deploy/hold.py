"""Hold environments at what the deployment repository already has (`mlspec commit --hold ENV`).

A staging deploy must not move production: production changes only in the job its approvers release.
Rendering a spec renders every environment, so the commit keeps, for each held environment, the files
and manifest entries of HEAD: files the new render changes keep their committed bytes, new ones are
not added, and orphans are not removed. `mlspec drift` then reports the held files as outdated, which
is what they are until the approved `mlspec commit` without --hold.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from compiler.output.manifest import Manifest
from compiler.output.writer import MANIFEST


def is_held(rel: str, environments: Collection[str]) -> bool:
    """`models/<model>/<target>/<environment>/...`: the per-environment output of every target."""
    parts = rel.split("/")
    return len(parts) >= 5 and parts[0] == "models" and parts[3] in environments


def hold(files: dict[str, bytes], orphans: list[str], head: Mapping[str, bytes],
         environments: Collection[str]) -> tuple[dict[str, bytes], list[str]]:
    """`files`/`orphans` with the held environments' paths as HEAD has them (`head`: HEAD's blobs)."""
    if not environments or MANIFEST not in files:
        return files, orphans
    new: dict[str, Any] = json.loads(files[MANIFEST])
    old: dict[str, Any] = json.loads(head[MANIFEST]).get("files", {}) if MANIFEST in head else {}
    entries: dict[str, Any] = dict(new.get("files", {}))
    out = dict(files)
    for rel in list(out):
        if rel == MANIFEST or not is_held(rel, environments):
            continue
        if rel in head:
            out[rel] = head[rel]
        else:
            del out[rel]
        if rel in old:
            entries[rel] = old[rel]
        else:
            entries.pop(rel, None)
    kept = [rel for rel in orphans if is_held(rel, environments)]
    for rel in kept:
        if rel in old:
            entries[rel] = old[rel]
    manifest = Manifest(new.get("compiler", ""), dict(new.get("specs", {})), dict(sorted(entries.items())))
    out[MANIFEST] = manifest.to_json().encode()
    return out, [rel for rel in orphans if rel not in kept]
