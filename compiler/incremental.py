"""Incremental rendering into a directory: only specs whose inputs changed are planned and rendered.

A spec's result is a function of its bytes and display name, the run's context (compiler and target code,
mlspec.yaml, target settings) and its model's rollout state. The cache stores, per spec, the key of those
inputs and what rendering produced (diagnostics, plan, the manifest entries of its files), and for every
file the `stat` it had when written. A later render into the same directory reuses a spec when its key is
unchanged and every one of its files is still on disk as written (a file whose stat changed is hashed; a
hand-edited or deleted file makes the spec render again). Project-wide files are rendered again from the
cached plans only when some spec changed; `render_repository` then reads unchanged files from the tree.

The cache lives beside the specs (`.mlspec-cache/`, or `$MLSPEC_CACHE_DIR`), never in the deployment
repository, one index per output directory. It is only an accelerator: a missing, unreadable or foreign
cache means a full render, and `tests/test_incremental.py` checks incremental == full, byte for byte.

Length: one module on purpose: what a cached spec depends on, how the cache is stored and when it
is trusted are one contract; split, the invalidation rules would be spread over several files.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import functools
import hashlib
import io
import json
import os
import pickle
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import __version__, memo, stamp
from compiler.diagnostics import has_errors
from compiler.manifest import PROJECT_OWNER, Manifest, entry, load_manifest, spec_entry
from compiler.pipeline import (
    Context,
    RunResult,
    SpecResult,
    _cross_spec_collisions,
    _render_project,
    _run_all,
    prepare,
)
from compiler.plan import ActiveStage, Plan
from compiler.specfiles import Work
from compiler.targets import Registry
from compiler.writer import MANIFEST

CACHE_ENV = "MLSPEC_CACHE_DIR"
CACHE_DIR = ".mlspec-cache"
_FORMAT = 5  # bump when the pickled layout changes

Stat = tuple[int, int, int]  # (size, mtime_ns, inode)


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
    memo: dict[tuple[str, str], Any] = field(default_factory=dict)  # compiler.memo entries last used
    fragments: dict[tuple[str, ...], str] = field(default_factory=dict)  # manifest text per file entry
    plans_token: str = ""  # the plans live in a second file, read only when project files re-render
    cold_token: str = ""  # memo and fragments live in a third file, read only when something re-renders
    cold_loaded: bool = True
    manifest_sha: str = ""  # the manifest last written
    touched: bool = False  # something changed since loading: save it


_PLAN_TABLE: dict[type, Any] = {}


def cache_path(root: Path, out: Path) -> Path:
    base = Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else root / CACHE_DIR
    tag = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
    return base / f"render-{tag}.pickle"


def _load(path: Path, context_key: str) -> Index:
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


def _plans_path(path: Path) -> Path:
    return path.with_suffix(".plans.pickle")


def _plan_classes() -> dict[type, Any]:
    """Pickle the plan's dataclasses as constructor calls: the default path for slotted dataclasses
    (dataclasses._dataclass_setstate, introspecting the fields per object) was 40k calls for 1,000 plans,
    the largest cost of a render after one spec changed."""
    from compiler import plan as plan_module

    table: dict[type, Any] = {}
    for value in vars(plan_module).values():
        if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == plan_module.__name__
                and all(f.init for f in dataclasses.fields(value))):
            names = tuple(f.name for f in dataclasses.fields(value))
            table[value] = functools.partial(_reduce, names)
    return table


def _reduce(names: tuple[str, ...], obj: Any) -> tuple[Any, ...]:
    return (type(obj), tuple(getattr(obj, n) for n in names))


def _pickle_plan(plan: Plan) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **_PLAN_TABLE}
    pickler.dump(plan)
    return buffer.getvalue()


def _load_plans(path: Path, token: str) -> dict[str, bytes]:
    """Each plan pickled on its own: a save re-pickles only the plans rendered in that run."""
    try:
        with open(_plans_path(path), "rb") as handle:
            found = pickle.load(handle)
    except Exception:
        return {}
    if not isinstance(found, tuple) or len(found) != 2 or found[0] != token or not token:
        return {}
    plans: dict[str, bytes] = found[1]
    return plans


def _dump(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _save(path: Path, index: Index, plans: dict[str, bytes] | None) -> None:
    with contextlib.suppress(OSError):  # a read-only cache directory costs speed, not correctness
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# mlspec's render cache: safe to delete, never commit it\n*\n")
        if plans is not None:
            index.plans_token = hashlib.sha256(os.urandom(16)).hexdigest()
            _dump(_plans_path(path), (index.plans_token, plans))
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


def _load_cold(path: Path, index: Index) -> None:
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


def _code_fingerprint(context: Context) -> list[Any]:
    """The compiler's and the targets' source files by stat: an edited target invalidates the cache even
    in an editable install, where the version number does not change."""
    found: list[Any] = []
    for name in stamp.code_packages(context.targets):
        module = sys.modules.get(name)
        where = getattr(module, "__path__", None) or ([os.path.dirname(module.__file__)]
                                                      if module is not None and module.__file__ else [])
        for top in where:
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for file in sorted(filenames):
                    if file.endswith(".py"):
                        st = os.stat(os.path.join(dirpath, file))
                        found.append((os.path.join(dirpath, file), st.st_size, st.st_mtime_ns))
    return found


def context_key(context: Context, out: Path) -> str:
    project_file = context.root / "mlspec.yaml"
    try:
        project_bytes = project_file.read_bytes()
    except OSError:
        project_bytes = b""
    parts = [
        __version__, sys.version, str(context.root), str(out.resolve()), project_bytes.hex(),
        repr(context.project), [(t.name, type(t).__module__, repr(s)) for t, s in context.targets],
        repr(context.diagnostics), _code_fingerprint(context),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _state_digest(state: Mapping[str, Mapping[str, ActiveStage]], name: str | None) -> str:
    if name is None:
        return ""
    return repr(sorted((env, s.version, s.stage) for env, s in state.get(name, {}).items()))


def _stat(path: Path | str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _intact(out: Path, files: Mapping[str, dict[str, Any]], stats: dict[str, Stat], touched: list[bool]) -> bool:
    """Every file is on disk as written: same stat, or (stat changed, e.g. touched) the same bytes."""
    base = str(out)
    for rel, info in files.items():
        found = _stat(f"{base}/{rel}")
        if found is None:
            return False
        if found == stats.get(rel):
            continue
        try:
            data = Path(base, rel).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            return False
        stats[rel] = found
        touched[0] = True
    return True


class TreeFiles(Mapping[str, bytes]):
    """Every per-spec file: the ones rendered now from memory, the reused ones read from the tree on demand."""

    def __init__(self, out: Path, specs: list[SpecResult]) -> None:
        self._out = out
        self._fresh: dict[str, bytes] = {}
        self._reused: dict[str, str] = {}
        for spec in specs:
            self._fresh.update(spec.files)
            self._reused.update(spec.reused)

    def sha256(self, key: str) -> str | None:
        """Known without reading the file (compiler.memo.file_digest)."""
        return None if key in self._fresh else self._reused.get(key)

    def __getitem__(self, key: str) -> bytes:
        if key in self._fresh:
            return self._fresh[key]
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


@dataclass(slots=True)
class Incremental:
    """An incremental render's result: what to write, and what the manifest says."""

    result: RunResult
    files: dict[str, bytes]  # rendered now (per spec and project-wide) plus the manifest
    manifest: Manifest
    reused: int  # files found intact and not rendered again
    rendered_specs: int
    index: Index
    cache: Path
    plans: dict[str, bytes] | None = None  # every spec's pickled plan, when they were all in memory
    previous: set[str] | None = None  # what the manifest on disk lists, when the index knows it


def render_incremental(out: Path, *, registry: Registry | None = None, jobs: int | None = None,
                       rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None = None,
                       _ignore_cache: bool = False) -> Incremental:
    """Render the project's specs for `out`, rendering again only what changed since the cached render."""
    context, work, extra = prepare(None, registry=registry, rollout_state=rollout_state)
    cache = cache_path(context.root, out)
    key = context_key(context, out)
    index = Index(key) if _ignore_cache else _load(cache, key)
    state = context.rollout_state
    touched = [False]
    listed = _listed(out, index, touched)
    keys: dict[str, str] = {}
    reused: dict[str, SpecResult] = {}
    todo: list[Work] = []
    for item in work:
        file, rel, path = item
        try:
            raw = path.read_bytes()
        except OSError:
            todo.append(item)  # the normal path reports it as a diagnostic
            continue
        keys[rel] = hashlib.sha256(repr((file, rel)).encode() + b"\0" + raw).hexdigest()
        cached = index.specs.get(rel)
        if (cached is not None and cached.key == keys[rel] and cached.name is not None
                and cached.state == _state_digest(state, cached.name)
                and _intact(out, cached.files, index.stats, touched)):
            reused[rel] = cached.result
        else:
            todo.append(item)
    fresh = {r.rel_path: r for r in _run_all(todo, context, True, jobs)} if todo else {}
    specs = [reused.get(rel) or fresh[rel] for _, rel, _ in work]
    result = RunResult(context, specs, extra=[*extra, *_cross_spec_collisions(specs)])
    files: dict[str, bytes] = {}
    manifest = Manifest()
    if not result.ok:
        return Incremental(result, files, manifest, 0, len(fresh), index, cache)
    plan_digests = [(s.rel_path, s.plan.digest if s.plan else index.specs[s.rel_path].manifest["plan_digest"]
                     if s.rel_path in reused else "", keys.get(s.rel_path, "")) for s in specs]
    project_key = hashlib.sha256(repr((plan_digests, sorted(
        (n, _state_digest(state, n)) for n in state))).encode()).hexdigest()
    plans: dict[str, tuple[Plan, bytes]] | None = None
    reused_count = 0
    if project_key == index.project_key and _intact(out, index.project_files, index.stats, touched):
        result.project_file_targets = dict(index.project_targets)
        result.extra.extend(index.project_diagnostics)
        project_entries = index.project_files
        reused_count += len(project_entries)
    else:
        _load_cold(cache, index)
        memo.preload(index.memo)
        plans = _all_plans(specs, reused, cache, index)
        if plans is None:  # the plans file is gone or stale: render everything once more
            return render_incremental(out, registry=registry, jobs=jobs, rollout_state=rollout_state,
                                      _ignore_cache=True)
        result.specs = specs = [dataclasses.replace(s, plan=plans[s.rel_path][0]) if s.plan is None
                                and s.rel_path in plans else s for s in specs]
        before = len(result.extra)
        _render_project(result, TreeFiles(out, specs))
        index.project_key, index.project_targets = project_key, dict(result.project_file_targets)
        index.project_diagnostics = result.extra[before:]
        project_entries = {p: entry(c, result.project_file_targets[p], PROJECT_OWNER,
                                    result.project_file_resources.get(p, []))
                           for p, c in result.project_files.items()}
        previous = index.project_files
        index.project_files = project_entries
        for rel_file, content in result.project_files.items():
            # Most project files come out as they were: leave those alone, unread (like reused specs).
            old = previous.get(rel_file)
            if old is not None and old["sha256"] == project_entries[rel_file]["sha256"] and _intact(
                    out, {rel_file: old}, index.stats, touched):
                reused_count += 1
            else:
                files[rel_file] = content
        touched[0] = True
    new_specs: dict[str, SpecEntry] = {}
    for spec in specs:
        if spec.plan is None and spec.rel_path not in reused:
            continue
        if spec.rel_path in reused:
            cached = index.specs[spec.rel_path]
            reused_count += len(cached.files)
        else:
            assert spec.plan is not None
            entries = {p: entry(c, spec.file_targets[p], spec.rel_path, spec.file_resources.get(p, []))
                       for p, c in spec.files.items()}
            light = SpecResult(spec.file, spec.rel_path, None, list(spec.diagnostics), {},
                               dict(spec.file_targets), dict(spec.file_resources), spec.position,
                               {p: e["sha256"] for p, e in entries.items()})
            cached = SpecEntry(keys.get(spec.rel_path, ""), spec.plan.name, _state_digest(state, spec.plan.name),
                               light, spec_entry(spec.plan), entries)
            files.update(spec.files)
            touched[0] = True
        new_specs[spec.rel_path] = cached
        manifest.specs[spec.rel_path] = cached.manifest
        manifest.files.update(cached.files)
    manifest.files.update(project_entries)
    manifest.files = dict(sorted(manifest.files.items()))
    manifest.specs = dict(sorted(manifest.specs.items()))
    if set(new_specs) != set(index.specs):
        touched[0] = True
    index.specs = new_specs
    index.touched = touched[0]
    if (not fresh and index.cold_loaded is False and index.manifest_sha
            and _intact(out, {MANIFEST: {"sha256": index.manifest_sha}}, index.stats, touched)):
        # Nothing rendered and the manifest on disk is the one last written: it is what we would write.
        return Incremental(result, files, manifest, reused_count + 1, 0, index, cache, None, listed)
    _load_cold(cache, index)
    if plans is not None:
        index.memo = memo.used()
    text = _manifest_json(manifest, index).encode()
    index.manifest_sha = hashlib.sha256(text).hexdigest()
    index.touched = True  # record the manifest's stat, so the next unchanged run need not build it
    files[MANIFEST] = text
    return Incremental(result, files, manifest, reused_count, len(fresh), index, cache,
                       None if plans is None else {k: v[1] for k, v in plans.items()}, listed)


def _listed(out: Path, index: Index, touched: list[bool]) -> set[str] | None:
    """The files the manifest on disk lists, from the index, when it is the manifest the index wrote:
    parsing it (12 MB of JSON for 1,000 models) was a tenth of a render after one spec changed."""
    if not index.manifest_sha or not _intact(out, {MANIFEST: {"sha256": index.manifest_sha}}, index.stats, touched):
        return None
    found = set(index.project_files)
    for cached in index.specs.values():
        found.update(cached.files)
    return found


def _all_plans(specs: list[SpecResult], reused: Mapping[str, SpecResult], cache: Path,
               index: Index) -> dict[str, tuple[Plan, bytes]] | None:
    """Every spec's plan: the fresh ones from memory, the reused ones from the plans file."""
    if not _PLAN_TABLE:
        _PLAN_TABLE.update(_plan_classes())
    stored = _load_plans(cache, index.plans_token) if reused else {}
    plans: dict[str, tuple[Plan, bytes]] = {}
    for spec in specs:
        if spec.plan is not None:
            plans[spec.rel_path] = (spec.plan, _pickle_plan(spec.plan))
        elif spec.rel_path in reused:
            if spec.rel_path not in stored:
                return None
            plans[spec.rel_path] = (pickle.loads(stored[spec.rel_path]), stored[spec.rel_path])
    return plans


def _manifest_json(manifest: Manifest, index: Index) -> str:
    """`manifest.to_json()`, byte for byte, from per-entry text kept in the cache.

    json.dumps with indent runs the pure-Python encoder: 31k file entries cost a second on every render.
    An entry's text depends only on its path and contents, so it is encoded once.
    """
    fragments: dict[tuple[str, ...], str] = {}

    def fragment(key: str, value: dict[str, Any]) -> str:
        cache_key = (key, repr(value))
        text = index.fragments.get(cache_key)
        if text is None:
            lines = json.dumps({key: value}, indent=2, sort_keys=True, ensure_ascii=False).split("\n")[1:-1]
            text = "\n".join("  " + line for line in lines)
        fragments[cache_key] = text
        return text

    def section(name: str, entries: dict[str, dict[str, Any]]) -> str:
        if not entries:
            return f'  "{name}": {{}}'
        return f'  "{name}": {{\n' + ",\n".join(fragment(k, v) for k, v in entries.items()) + "\n  }"

    text = ("{\n" + f'  "compiler": {json.dumps(manifest.compiler, ensure_ascii=False)},\n'
            + section("files", manifest.files) + ",\n" + section("specs", manifest.specs) + "\n}\n")
    index.fragments = fragments
    return text


def orphans(out: Path, run: Incremental) -> list[str]:
    """Files the previous manifest lists and this one does not; none when the manifest is unchanged."""
    if MANIFEST not in run.files:
        return []
    manifest = run.manifest
    if run.previous is not None:
        return sorted(run.previous - set(manifest.files))
    previous = load_manifest(out)
    return sorted(set(previous.files) - set(manifest.files)) if previous else []


def remember(run: Incremental, out: Path, wrote: bool) -> None:
    """Record what is on disk now (after writing, or a check that found the tree current) for the next run."""
    if has_errors(run.result.diagnostics) or not (wrote or run.index.touched):
        return
    stats = run.index.stats
    live = {*run.manifest.files, MANIFEST}
    for rel in list(stats):
        if rel not in live:
            del stats[rel]
    base = str(out)
    for rel in run.files:  # the manifest too: an unchanged run then skips building it
        found = _stat(f"{base}/{rel}")
        if found is None:
            stats.pop(rel, None)
        else:
            stats[rel] = found
    _save(run.cache, run.index, run.plans)


def plans_of(run: Incremental) -> list[Plan]:
    return [s.plan for s in run.result.specs if s.plan is not None]
