"""The rendered tree as an incremental render sees it: files rendered now (in memory) and files reused
from the output directory (read on demand), and the manifest's text built from cached fragments."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from compiler.output.cache_index import Index
from compiler.output.manifest import Manifest
from compiler.pipeline import SpecResult


class TreeFiles(Mapping[str, bytes]):
    """Every per-spec file: the ones rendered now from memory, the reused ones read from the tree on demand."""

    def __init__(self, out: Path, specs: list[SpecResult]) -> None:
        self._out = out
        # path -> its spec's files: a staged spec's are a view (compiler.output.staged), not copied (read)
        self._fresh: dict[str, Mapping[str, bytes]] = {}
        self._reused: dict[str, str] = {}
        for spec in specs:
            self._fresh.update(dict.fromkeys(spec.files, spec.files))
            self._reused.update(spec.reused)

    def sha256(self, key: str) -> str | None:
        """Known without reading the file (compiler.render.memo.file_digest)."""
        if key in self._fresh:
            known = getattr(self._fresh[key], "sha256", None)
            return known(key) if callable(known) else None
        return self._reused.get(key)

    def __getitem__(self, key: str) -> bytes:
        if key in self._fresh:
            return self._fresh[key][key]
        if key in self._reused:
            return (self._out / key).read_bytes()
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._fresh or key in self._reused

    def __iter__(self) -> Iterator[str]:
        yield from self._fresh
        yield from (k for k in self._reused if k not in self._fresh)

    def __len__(self) -> int:
        return len(self._fresh) + len(self._reused.keys() - self._fresh.keys())


def manifest_json(manifest: Manifest, index: Index) -> str:
    """`manifest.to_json()`, byte for byte, from per-entry text kept in the cache.

    json.dumps with indent runs the pure-Python encoder: 31k file entries cost a second on every render.
    An entry's text depends only on its path and contents, so it is encoded once.
    """
    fragments: dict[tuple[str, ...], str] = {}
    parts: list[str] = []  # joined once: adding up the sections copied the 12 MB text three times

    def fragment(key: str, value: dict[str, Any]) -> str:
        # Keyed by a digest of the entry: the cache kept 31k reprs (10 MB) in memory and on disk.
        cache_key = (key, hashlib.sha256(repr(value).encode()).hexdigest())
        text = index.fragments.get(cache_key)
        if text is None:
            lines = json.dumps({key: value}, indent=2, sort_keys=True, ensure_ascii=False).split("\n")[1:-1]
            text = "\n".join("  " + line for line in lines)
        fragments[cache_key] = text
        return text

    def section(name: str, entries: dict[str, dict[str, Any]]) -> None:
        if not entries:
            parts.append(f'  "{name}": {{}}')
            return
        parts.append(f'  "{name}": {{\n')
        for number, (key, value) in enumerate(entries.items()):
            parts.extend((",\n", fragment(key, value)) if number else (fragment(key, value),))
        parts.append("\n  }")

    parts.append("{\n" + f'  "compiler": {json.dumps(manifest.compiler, ensure_ascii=False)},\n')
    section("files", manifest.files)
    parts.append(",\n")
    section("specs", manifest.specs)
    parts.append("\n}\n")
    text = "".join(parts)
    index.fragments = fragments
    return text
