"""The incremental render's cache on disk (compiler.output.incremental): one index per output directory.

The index holds, per spec, the key of its inputs, what rendering produced and the manifest text of its
entries, and every written file's stat. It is stored in shards: the head (`render-<tag>.pickle`: the
manifest's stat and digest, a token per shard), the project-wide files (`.project.pickle`: their
entries, manifest texts and stats, 5 MB for 1,000 models) and the specs spread over `SHARDS` files by
a hash of their path (`.sNN.pickle`, each with its specs' entries and their files' stats). A save
rewrites only the shards whose specs or stats changed: after one spec changed, one shard of 9 MB/32
instead of the whole index, and the project-wide files' only when they were built again or touched.
Two more files are read only when needed: the plans (`.plans.pickle`, each plan pickled on its own, for
re-rendering project-wide files) and the memo (`.cold.pickle`, when they re-render). Tokens tie them
to the head they were written with; shards are written before the head, so an interrupted save leaves
a head whose tokens do not match. Anything missing, unreadable, torn or foreign means a full render,
never a wrong one.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import functools
import hashlib
import io
import os
import pickle
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from compiler.diagnostics import Diagnostic
from compiler.output import sealed, stamp
from compiler.pipeline import SpecResult
from compiler.planning.plan import Plan

# Bump when the pickled layout changes (8: sharded, manifest texts per entry; 14: the project-wide files'
# shard, a spec's shares digest and file stat, no file entries, what only the project-wide files read apart;
# 15: each spec's head in the head; 16: the manifest known by its stat alone; 17: Head a named tuple).
_FORMAT = 17
SHARDS = 32  # ~30 specs a shard for 1,000: a save after one change rewrites 1/32 of the index

Stat = stamp.Stat  # (size, mtime_ns, inode)


@dataclass(slots=True)
class SpecEntry:
    key: str
    name: str | None  # the model's name (None: the spec had errors)
    state: str  # digest of the model's rollout state when rendered
    result: SpecResult  # files, parts, file_targets and file_resources emptied; `reused`: path -> sha256
    manifest: dict[str, Any]  # the manifest's `specs` entry
    # The manifest's text of each of the spec's files' entry, by path (every file it rendered), and of its
    # `specs` entry (compiler.output.tree_files): computed once when the spec renders, so the 12 MB manifest
    # is joined, not encoded, on every render. The entries themselves are not kept: their digests, targets
    # and resources are the result's, and unpickling 31k dicts no run reads was a third of loading the index.
    texts: dict[str, str] = field(default_factory=dict)
    spec_text: str = ""
    shares: str = ""  # digest of what the project-wide files may read of the spec (incremental._shares_digest)
    source: Stat | None = None  # the spec file's stat when its bytes were read for `key`
    # The result's parts, file_targets and file_resources, pickled: only a build of the project-wide files
    # reads them (`whole_result`), and unpickling every spec's on every load was a third of it.
    project_data: bytes = b""


class Head(NamedTuple):
    """What decides whether a cached spec is reused (compiler.output.incremental), as its SpecEntry has it."""

    key: str
    name: str | None
    state: str
    file: str  # its display name
    source: Stat | None


def head_of(entry: SpecEntry) -> Head:
    return Head(entry.key, entry.name, entry.state, entry.result.file, entry.source)


@dataclass(slots=True)
class Index:
    context: str = ""
    specs: dict[str, SpecEntry] = field(default_factory=dict)  # by rel_path (loaded by load_specs)
    # Each spec's head, in the head file: which specs changed is known before their shards load.
    heads: dict[str, Head] = field(default_factory=dict)
    project_key: str = ""
    # The project-wide files' key by the specs' shares, when building them read nothing else of a spec
    # (no plan, no file's bytes): "" otherwise (compiler.output.incremental).
    shares_key: str = ""
    project_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # manifest entries
    project_targets: dict[str, str] = field(default_factory=dict)
    project_diagnostics: list[Any] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)  # every file written, as written
    memo: dict[tuple[str, str], Any] = field(default_factory=dict)  # compiler.render.memo entries last used
    project_texts: dict[str, str] = field(default_factory=dict)  # manifest text per project file entry
    shards: dict[int, str] = field(default_factory=dict)  # shard number -> token of the file written
    plans_token: str = ""  # the plans live in a second file, read only when project files re-render
    cold_token: str = ""  # the memo lives in a third file, read only when something re-renders
    cold_loaded: bool = True
    manifest_written: bool = False  # the manifest is the one last written, when its stat is the recorded one
    touched: bool = False  # something changed since loading: save it
    project_token: str = ""  # the project-wide files' shard
    # Not stored: what each shard held when loaded or saved (by identity), to know which to rewrite.
    loaded: dict[int, tuple[dict[str, SpecEntry], dict[str, Stat]]] = field(default_factory=dict)
    loaded_project: tuple[Any, ...] = ()  # the same for the project shard (_project_part)


def light_result(result: SpecResult, digests: dict[str, str]) -> tuple[SpecResult, bytes]:
    """What the cache keeps of a rendered spec's result: no files (`reused`: their digests), and its parts,
    file targets and resources pickled apart (SpecEntry.project_data)."""
    light = SpecResult(result.file, result.rel_path, None, list(result.diagnostics), {}, {}, {}, result.position,
                       digests)
    kept = (dict(result.parts), dict(result.file_resources), dict(result.file_targets))
    return light, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)


def whole_result(entry: SpecEntry) -> SpecResult:
    """A cached spec's result with its parts, file targets and resources, for building the project-wide files."""
    if not entry.project_data:
        return entry.result
    parts, resources, targets = pickle.loads(entry.project_data)
    return dataclasses.replace(entry.result, parts=parts, file_resources=resources, file_targets=targets)


PLAN_TABLE: dict[type, Any] = {}


def cache_path(root: Path, out: Path) -> Path:
    return stamp.cache_base(root) / f"render-{stamp.out_tag(out)}.pickle"


def load(path: Path, context_key: str) -> Index:
    """The head: each spec's `Head` and the tokens of the shards that `load_specs` reads."""
    try:
        with open(path, "rb") as handle:
            found = sealed.load(handle)
    except Exception:  # absent, truncated, from another mlspec: the cache is only an accelerator
        return Index(context_key)
    if not isinstance(found, tuple) or found[:1] != (_FORMAT,) or not isinstance(found[1], Index):
        return Index(context_key)
    index: Index = found[1]
    if index.context != context_key or index.specs or index.loaded or index.loaded_project:
        return Index(context_key)
    index.cold_loaded = False
    return index


def load_specs(path: Path, index: Index) -> Index:
    """`index` (a head from `load`) with its specs, project-wide files and stats; an empty index when any
    shard is missing, torn, from another save, or does not hold the specs the head lists."""
    empty = Index(index.context)
    if not index.project_token:  # nothing stored (no cache, or a new one)
        return index
    project = _load_part(_project_path(path), index.project_token, 7)
    if project is None:
        return empty
    (index.project_files, index.project_targets, index.project_diagnostics, index.project_texts,
     project_stats) = project[2:]
    index.stats.update(project_stats)
    index.loaded_project = _project_part(index, project_stats)
    for number, token in sorted(index.shards.items()):
        shard = _load_shard(shard_path(path, number), token)
        if shard is None:  # missing, torn or from another save: a full render, never a partial index
            return empty
        specs, stats = shard
        if any(_shard_of(rel) != number for rel in specs):
            return empty
        index.specs.update(specs)
        index.stats.update(stats)
        index.loaded[number] = (specs, stats)
    if index.specs.keys() != index.heads.keys() or any(head_of(e) != index.heads[r] for r, e in index.specs.items()):
        return empty
    return index


def shard_path(path: Path, number: int) -> Path:
    return path.with_suffix(f".s{number:02d}.pickle")


def _shard_of(rel: str) -> int:
    return zlib.crc32(rel.encode()) % SHARDS


def _load_part(path: Path, token: str, size: int) -> tuple[Any, ...] | None:
    """A shard written with `token`, a tuple of `size` (format, token, the rest); None: missing, torn, foreign."""
    try:
        with open(path, "rb") as handle:
            found = sealed.load(handle)
    except Exception:
        return None
    if (not isinstance(found, tuple) or len(found) != size or found[0] != _FORMAT or found[1] != token
            or not token or not all(isinstance(f, (dict, list)) for f in found[2:])):
        return None
    return found


def _load_shard(path: Path, token: str) -> tuple[dict[str, SpecEntry], dict[str, Stat]] | None:
    found = _load_part(path, token, 4)
    if found is None or not all(isinstance(e, SpecEntry) for e in found[2].values()):
        return None
    return found[2], found[3]


def _project_path(path: Path) -> Path:
    return path.with_suffix(".project.pickle")


def _project_part(index: Index, stats: dict[str, Stat]) -> tuple[Any, ...]:
    """What the project shard holds: the project-wide files' entries, owners, diagnostics, manifest texts
    and stats."""
    return index.project_files, index.project_targets, index.project_diagnostics, index.project_texts, stats


def plans_path(path: Path) -> Path:
    return path.with_suffix(".plans.pickle")


def plan_classes() -> dict[type, Any]:
    """Pickle the plan's dataclasses as constructor calls: the default path for slotted dataclasses
    (dataclasses._dataclass_setstate, introspecting the fields per object) was 40k calls for 1,000 plans,
    the largest cost of a render after one spec changed."""
    from compiler.planning import plan as plan_module

    table: dict[type, Any] = {}
    for value in vars(plan_module).values():
        # The plan's sections are defined in their own compiler.planning modules and exported by plan.
        if (isinstance(value, type) and dataclasses.is_dataclass(value)
                and value.__module__.startswith("compiler.planning.")
                and all(f.init for f in dataclasses.fields(value))):
            names = tuple(f.name for f in dataclasses.fields(value))
            table[value] = functools.partial(_reduce, names)
    return table


def _reduce(names: tuple[str, ...], obj: Any) -> tuple[Any, ...]:
    return (type(obj), tuple(getattr(obj, n) for n in names))


def pickle_plan(plan: Plan) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **PLAN_TABLE}
    pickler.dump(plan)
    return buffer.getvalue()


def load_plans(path: Path, token: str) -> dict[str, bytes]:
    """Each plan pickled on its own: a save re-pickles only the plans rendered in that run."""
    try:
        with open(plans_path(path), "rb") as handle:
            found = sealed.load(handle)
    except Exception:
        return {}
    if not isinstance(found, tuple) or len(found) != 2 or found[0] != token or not token:
        return {}
    plans: dict[str, bytes] = found[1]
    return plans


_INDEX_TABLE = stamp.constructors(Index, SpecEntry, SpecResult, Diagnostic)  # see stamp.constructors


def _new_token() -> str:
    return hashlib.sha256(os.urandom(16)).hexdigest()


def _dump(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as handle:
        sealed.dump(handle, data, _INDEX_TABLE)
    os.replace(tmp, path)


def save(path: Path, index: Index, plans: dict[str, bytes] | None) -> None:
    with contextlib.suppress(OSError):  # a read-only cache directory costs speed, not correctness
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# mlspec's render cache: safe to delete, never commit it\n*\n")
        if plans is not None:
            index.plans_token = _new_token()
            _dump(plans_path(path), (index.plans_token, plans))
        index.touched = False
        memo_entries = index.memo
        if index.cold_loaded:
            index.cold_token = _new_token()
            _dump(_cold_path(path), (index.cold_token, memo_entries))
        specs, stats = index.specs, index.stats
        head_stats = _save_project(path, index, _save_shards(path, index))
        index.heads = {rel: head_of(entry) for rel, entry in specs.items()}
        loaded, project = index.loaded, index.loaded_project
        index.memo, index.specs, index.stats, index.loaded, index.loaded_project = {}, {}, head_stats, {}, ()
        index.project_files, index.project_targets, index.project_diagnostics, index.project_texts = {}, {}, [], {}
        try:
            _dump(path, (_FORMAT, index))  # last: it names the shards just written
        finally:
            index.memo, index.specs, index.stats, index.loaded = memo_entries, specs, stats, loaded
            index.project_files, index.project_targets, index.project_diagnostics, index.project_texts = project[:4]
            index.loaded_project = project


def _save_shards(path: Path, index: Index) -> dict[str, Stat]:
    """Write the shards whose specs or stats changed since loaded; the stats that belong to no spec
    (project-wide files, the manifest) are the head's."""
    groups: dict[int, tuple[dict[str, SpecEntry], dict[str, Stat]]] = {}
    stats = index.stats
    owned: set[str] = set()
    for rel, spec in index.specs.items():
        specs, spec_stats = groups.setdefault(_shard_of(rel), ({}, {}))
        specs[rel] = spec
        for file in spec.texts:
            found = stats.get(file)
            if found is not None:
                spec_stats[file] = found
        owned.update(spec.texts)
    shards: dict[int, str] = {}
    for number, (specs, spec_stats) in sorted(groups.items()):
        before = index.loaded.get(number)
        token = index.shards.get(number, "")
        if (before is None or not token or before[1] != spec_stats or before[0].keys() != specs.keys()
                or any(specs[rel] is not entry for rel, entry in before[0].items())):
            token = _new_token()
            _dump(shard_path(path, number), (_FORMAT, token, specs, spec_stats))
        shards[number] = token
        index.loaded[number] = (specs, spec_stats)
    for number in set(index.loaded) - set(groups):
        del index.loaded[number]  # no spec left there; the head no longer names it
    index.shards = shards
    return {rel: stat for rel, stat in stats.items() if rel not in owned}


def _save_project(path: Path, index: Index, stats: dict[str, Stat]) -> dict[str, Stat]:
    """Write the project shard when its content changed since loaded (built again, a file's stat taken
    anew); the stats it does not hold (the manifest's) are the head's."""
    own = {rel: stats[rel] for rel in index.project_files if rel in stats}
    part = _project_part(index, own)
    before = index.loaded_project
    if (not before or not index.project_token or any(a is not b for a, b in zip(part[:4], before[:4], strict=True))
            or before[4] != own):
        index.project_token = _new_token()
        _dump(_project_path(path), (_FORMAT, index.project_token, *part))
    index.loaded_project = part
    return {rel: stat for rel, stat in stats.items() if rel not in own}


def _cold_path(path: Path) -> Path:
    return path.with_suffix(".cold.pickle")


def load_cold(path: Path, index: Index) -> None:
    """The memo: only a run that renders something needs it."""
    if index.cold_loaded:
        return
    index.cold_loaded = True
    try:
        with open(_cold_path(path), "rb") as handle:
            found = sealed.load(handle)
    except Exception:
        return
    if isinstance(found, tuple) and len(found) == 2 and found[0] == index.cold_token and index.cold_token:
        index.memo = found[1]


