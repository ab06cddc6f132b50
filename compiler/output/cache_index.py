"""The incremental render's cache on disk (compiler.output.incremental): one index per output directory.

The index (`render-<tag>.pickle`) holds, per spec, the key of its inputs and what rendering produced,
and every written file's stat; it is all an unchanged run reads. Two more files are read only when
needed: the plans (`.plans.pickle`, each plan pickled on its own, for re-rendering project-wide files)
and the memo and manifest fragments (`.cold.pickle`, when something renders). Tokens tie them to the
index they were written with. Anything missing, unreadable or foreign means a full render.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.output import stamp
from compiler.pipeline import SpecResult
from compiler.planning.plan import Plan

_FORMAT = 7  # bump when the pickled layout changes (7: SpecResult.parts, Target.project_part)

Stat = stamp.Stat  # (size, mtime_ns, inode)


@dataclass(slots=True)
class SpecEntry:
    key: str
    name: str | None  # the model's name (None: the spec had errors)
    state: str  # digest of the model's rollout state when rendered
    result: SpecResult  # files emptied; `reused` holds path -> sha256
    manifest: dict[str, Any]  # the manifest's `specs` entry
    files: dict[str, dict[str, Any]]  # the manifest's `files` entries


@dataclass(slots=True)
class Index:
    context: str = ""
    specs: dict[str, SpecEntry] = field(default_factory=dict)  # by rel_path
    project_key: str = ""
    project_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # manifest entries
    project_targets: dict[str, str] = field(default_factory=dict)
    project_diagnostics: list[Any] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)  # every file written, as written
    memo: dict[tuple[str, str], Any] = field(default_factory=dict)  # compiler.render.memo entries last used
    fragments: dict[tuple[str, ...], str] = field(default_factory=dict)  # manifest text per file entry
    plans_token: str = ""  # the plans live in a second file, read only when project files re-render
    cold_token: str = ""  # memo and fragments live in a third file, read only when something re-renders
    cold_loaded: bool = True
    manifest_sha: str = ""  # the manifest last written
    touched: bool = False  # something changed since loading: save it


PLAN_TABLE: dict[type, Any] = {}


def cache_path(root: Path, out: Path) -> Path:
    return stamp.cache_base(root) / f"render-{stamp.out_tag(out)}.pickle"


def load(path: Path, context_key: str) -> Index:
    try:
        with open(path, "rb") as handle:
            found = pickle.load(handle)
    except Exception:  # absent, truncated, from another mlspec: the cache is only an accelerator
        return Index(context_key)
    if not isinstance(found, tuple) or found[:1] != (_FORMAT,) or not isinstance(found[1], Index):
        return Index(context_key)
    index: Index = found[1]
    if index.context != context_key:
        return Index(context_key)
    index.cold_loaded = False
    return index


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
            found = pickle.load(handle)
    except Exception:
        return {}
    if not isinstance(found, tuple) or len(found) != 2 or found[0] != token or not token:
        return {}
    plans: dict[str, bytes] = found[1]
    return plans


def _constructors(*classes: type) -> dict[type, Any]:
    """Pickle these dataclasses as constructor calls (see plan_classes): the default for slotted ones looks
    up their fields once per object, 2,000 times for the index of 1,000 specs."""
    return {cls: functools.partial(_reduce, tuple(f.name for f in dataclasses.fields(cls))) for cls in classes
            if all(f.init for f in dataclasses.fields(cls))}


_INDEX_TABLE = _constructors(Index, SpecEntry, SpecResult, Diagnostic)


def _dump(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as handle:
        pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = {**copyreg.dispatch_table, **_INDEX_TABLE}
        pickler.dump(data)
    os.replace(tmp, path)


def save(path: Path, index: Index, plans: dict[str, bytes] | None) -> None:
    with contextlib.suppress(OSError):  # a read-only cache directory costs speed, not correctness
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# mlspec's render cache: safe to delete, never commit it\n*\n")
        if plans is not None:
            index.plans_token = hashlib.sha256(os.urandom(16)).hexdigest()
            _dump(plans_path(path), (index.plans_token, plans))
        index.touched = False
        memo_entries, fragments = index.memo, index.fragments
        if index.cold_loaded:
            index.cold_token = hashlib.sha256(os.urandom(16)).hexdigest()
            _dump(_cold_path(path), (index.cold_token, memo_entries, fragments))
        index.memo, index.fragments = {}, {}
        try:
            _dump(path, (_FORMAT, index))
        finally:
            index.memo, index.fragments = memo_entries, fragments


def _cold_path(path: Path) -> Path:
    return path.with_suffix(".cold.pickle")


def load_cold(path: Path, index: Index) -> None:
    """The memo and the manifest fragments: only a run that renders something needs them."""
    if index.cold_loaded:
        return
    index.cold_loaded = True
    try:
        with open(_cold_path(path), "rb") as handle:
            found = pickle.load(handle)
    except Exception:
        return
    if isinstance(found, tuple) and len(found) == 3 and found[0] == index.cold_token and index.cold_token:
        index.memo, index.fragments = found[1], found[2]


