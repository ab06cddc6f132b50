"""The rendered tree as an incremental render sees it: files rendered now (in memory) and files reused
from the output directory (read on demand), and the manifest's text joined from each entry's cached text."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from compiler.output.manifest import Manifest
from compiler.pipeline import SpecResult
from compiler.render.pretty_json import pretty_json


class TreeFiles(Mapping[str, bytes]):
    """Every per-spec file: the ones rendered now from memory, the reused ones read from the tree on demand."""

    def __init__(self, out: Path, specs: list[SpecResult]) -> None:
        self._out = out
        # path -> its spec's files: a staged spec's are a view (compiler.output.staged), not copied (read)
        self._fresh: dict[str, Mapping[str, bytes]] = {}
        self._reused: dict[str, str] = {}
        # Whether a file's bytes or digest were asked for: what was built from this tree then depends on
        # more than its paths (compiler.output.incremental keys the project-wide files by the shares only
        # when nothing was read).
        self.read = False
        for spec in specs:
            self._fresh.update(dict.fromkeys(spec.files, spec.files))
            self._reused.update(spec.reused)

    def sha256(self, key: str) -> str | None:
        """Known without reading the file (compiler.render.memo.file_digest)."""
        self.read = True
        if key in self._fresh:
            known = getattr(self._fresh[key], "sha256", None)
            return known(key) if callable(known) else None
        return self._reused.get(key)

    def __getitem__(self, key: str) -> bytes:
        self.read = True
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


def entry_text(key: str, value: dict[str, Any]) -> str:
    """The manifest's text of one entry (`"key": {...}` at the nesting `Manifest.to_json` gives it).

    json.dumps with indent runs the pure-Python encoder: 31k file entries cost a second and a half of the
    parent's time in a full render, so the same bytes come from compiler.render.pretty_json. An entry's
    text depends only on its key and value, so the cache keeps it with the entry
    (compiler.output.cache_index.SpecEntry.texts) and it is encoded once, when its spec renders.
    """
    lines = pretty_json({key: value}).split("\n")[1:-1]
    return "\n".join("  " + line for line in lines)


def manifest_json(manifest: Manifest, files: Mapping[str, str], specs: Mapping[str, str]) -> str:
    """`manifest.to_json()`, byte for byte, joined from the entries' texts known (`files`, `specs`: by key);
    an entry without one is encoded here. Both sections must be sorted by key, as to_json sorts them."""
    return joined_manifest(manifest.compiler,
                           [files.get(key) or entry_text(key, value) for key, value in manifest.files.items()],
                           [specs.get(key) or entry_text(key, value) for key, value in manifest.specs.items()])


def joined_manifest(compiler: str, files: list[str], specs: list[str]) -> str:
    """The manifest's text from its entries' texts (`entry_text`), each section's in key order: what an
    incremental render writes without building the entries themselves (compiler.output.cache_index)."""
    parts: list[str] = []  # joined once: adding up the sections copied the 12 MB text three times

    def section(name: str, texts: list[str]) -> None:
        if not texts:
            parts.append(f'  "{name}": {{}}')
            return
        parts.append(f'  "{name}": {{\n')
        parts.append(",\n".join(texts))  # one join of 39k texts, not a separator and a text each
        parts.append("\n  }")

    parts.append("{\n" + f'  "compiler": {json.dumps(compiler, ensure_ascii=False)},\n')
    section("files", files)
    parts.append(",\n")
    section("specs", specs)
    parts.append("\n}\n")
    return "".join(parts)
