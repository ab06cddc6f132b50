"""Stamps: what a run's inputs looked like on disk, so "nothing changed" is answered from `stat` alone.

A render into a directory depends on the spec files, mlspec.yaml, the installed code (compiler, targets,
plugins found through sys.path), the rollout state in the output tree and, for the report, the current
directory (diagnostics name files relative to it). After a render that left the tree current,
compiler.output.incremental records a stamp of all of those plus every output file's stat and the diagnostics
it reported. The next `mlspec render --out DIR` compares the stamp with the disk first: when every stat
is the same it reports the recorded result without importing the spec language or any target (most of
the time of an unchanged render was importing them). Any difference, however harmless (a touched
file, a new directory entry), means the normal incremental path decides, and it records a new stamp.

Stats are taken before the inputs are read, so a file edited during a run never matches the stamp.
Nothing here imports pydantic, the targets or the pipeline (tests/test_stamp.py checks that).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import os
import pickle
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.language.specfiles import MANIFEST_NAME, PROJECT_FILE, STATE_DIR, Work, run_root, spec_files_under
from compiler.output import sealed

CACHE_ENV = "MLSPEC_CACHE_DIR"
CACHE_DIR = ".mlspec-cache"
_FORMAT = 3

Stat = tuple[int, int, int]  # (size, mtime_ns, inode)


def incremental_enabled() -> bool:
    """`MLSPEC_INCREMENTAL=0` renders everything from scratch (the reference the equivalence test uses)."""
    return os.environ.get("MLSPEC_INCREMENTAL", "1") != "0"


def targets_chosen_by_caller() -> bool:
    """compiler.render.plugins.installed_targets() in effect (an application embedding mlspec, the tests): the
    stamps know only the installed targets. Not imported, nobody can have chosen."""
    module = sys.modules.get("compiler.render.plugins")
    return module is not None and bool(module.chosen_by_caller())


def cache_base(root: Path) -> Path:
    """The cache directory: beside mlspec.yaml (never in the deployment repository) or $MLSPEC_CACHE_DIR."""
    return Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else root / CACHE_DIR


def out_tag(out: Path) -> str:
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]


def stat_of(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def spec_key(item: Work, raw: bytes) -> str:
    """What a spec's cached result (render or lint) is keyed by: its name as shown, its path under the
    root and its bytes."""
    file, rel, _ = item
    return hashlib.sha256(f"{file}\0{rel}\0".encode() + raw).hexdigest()


def code_fingerprint(directories: Iterable[str]) -> list[tuple[str, int, int]]:
    """Every file and directory of the installed code, by stat: an edit, a new or a removed module."""
    found: list[tuple[str, int, int]] = []
    for top in directories:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in [".", *sorted(filenames)]:
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                found.append((path, st.st_size, st.st_mtime_ns))
    return found


def environment() -> list[Any]:
    """The interpreter and the directories its packages come from: installing a target plugin (a new
    entry point) changes a sys.path directory's mtime."""
    paths: list[tuple[str, int | None]] = []
    for entry in sys.path:
        try:
            paths.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            paths.append((entry, None))
    # All of sys.path, the script's own directory too (a plugin may live there): `mlspec` and
    # `python -m compiler` differ in it, so switching between them costs one normal render.
    return [sys.version, sys.executable, os.getcwd(), paths]


def code_packages(targets: Iterable[tuple[Any, Any]]) -> list[str]:
    """The top-level packages whose code a run executes: the compiler and every enabled target's."""
    return sorted({"compiler", *(type(t).__module__.split(".")[0] for t, _ in targets)})


Code = tuple[list[str], list[tuple[str, int, int]]]  # package directories, their fingerprint


def installed_code(targets: Iterable[tuple[Any, Any]]) -> Code:
    """The directories of the code a run executes (the compiler and the enabled targets) and their
    fingerprint: walked once per run, for the render cache's key and the stamp alike."""
    directories = package_dirs(code_packages(targets))
    return directories, code_fingerprint(directories)


def package_dirs(modules: Iterable[str]) -> list[str]:
    """The source directories of the named top-level packages (already imported)."""
    found: set[str] = set()
    for name in modules:
        module = sys.modules.get(name)
        where = getattr(module, "__path__", None) or ([os.path.dirname(module.__file__)]
                                                      if module is not None and module.__file__ else [])
        found.update(str(p) for p in where)
    return sorted(found)


def _listing(directory: Path) -> list[tuple[str, Stat | None]]:
    """Every entry under `directory` (recursively) by stat, but the manifest (a render's own output)."""
    found: list[tuple[str, Stat | None]] = []
    manifest = str(directory / MANIFEST_NAME)
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = os.path.join(dirpath, name)
            if path != manifest:
                found.append((path, stat_of(path)))
    return found


@dataclass(slots=True)
class Inputs:
    """The inputs of a run over the project's specs, by stat, taken before any of them is read."""

    root: str
    project: Stat | None  # mlspec.yaml
    specs: list[tuple[str, Stat | None]]
    state: list[tuple[str, Stat | None]]  # the output tree's .mlspec/: rollout state, journals, manifest
    environment: list[Any]


def _spec_listing(root: Path) -> list[tuple[str, Stat | None]]:
    """The files compiler.language.specfiles.discover_specs finds under specs/, by stat (following links, so a
    link pointed elsewhere differs), in walk order: cheaper than its sorting by resolved path."""
    return [(path, stat_of(path)) for path in spec_files_under(root / "specs")]


def inputs(root: Path, out: Path | None) -> Inputs:
    specs = _spec_listing(root)
    state = _listing(out / STATE_DIR) if out is not None else []
    return Inputs(str(root), stat_of(str(root / PROJECT_FILE)), specs, state, environment())


@dataclass(slots=True)
class RenderStamp:
    inputs: Inputs
    code: list[str]  # package directories
    code_stats: list[tuple[str, int, int]]
    outputs: Outputs  # every file the manifest lists, and the manifest
    diagnostics: list[Diagnostic]
    specs: int  # how many specs the run had

    @property
    def unchanged(self) -> int:
        """Files an unchanged render reports as unchanged: every output, the manifest included."""
        return len(self.outputs[1]) // (3 * _STAT_BYTES)


# Every output file's stat, packed: the paths joined by NUL and the stats' numbers as 64-bit integers.
# Pickled as two strings, not ~40k tuples in a dict, they cost a tenth to save and to load (1,000 specs).
Outputs = tuple[str, bytes]
_STAT_BYTES = array("q").itemsize


def packed(outputs: list[tuple[str, Stat]]) -> Outputs:
    """Raises OverflowError for a number beyond 64 bits (an inode on some file systems)."""
    numbers = array("q", itertools.chain.from_iterable(stat for _, stat in outputs))
    return "\0".join(rel for rel, _ in outputs), numbers.tobytes()


def unpacked(outputs: Outputs) -> Iterable[tuple[str, Stat]]:
    paths, raw = outputs
    numbers = array("q")
    numbers.frombytes(raw)
    each = iter(numbers)
    for rel, size, mtime, inode in zip(paths.split("\0") if paths else [], each, each, each, strict=False):
        yield rel, (size, mtime, inode)


@dataclass(slots=True)
class _StoredRender:
    """A RenderStamp on disk: what `unchanged_render` compares first, and the rest (every output's stat, the
    diagnostics: nine tenths of the file) pickled apart, unpickled only when the inputs are as recorded.
    After a spec changed, unpickling all of it just to see the spec's stat differ cost 20-40 ms."""

    inputs: Inputs
    code: list[str]
    code_stats: list[tuple[str, int, int]]
    rest: bytes  # (outputs, diagnostics, specs), pickled with _STAMP_TABLE; sealed with the file


_STAMP_TABLE: dict[type, Any] = {}  # filled below, once every stamp class is defined


def render_stamp_path(root: Path, out: Path) -> Path:
    return cache_base(root) / f"render-{out_tag(out)}.stamp"


def constructors(*classes: type) -> dict[type, Any]:
    """A pickler's dispatch table that stores these dataclasses as constructor calls. The default for
    slotted ones introspects their fields per object, on dump and on load: the ~1,000 diagnostics of a
    stamp for 1,000 specs cost 35 ms to save and 30 ms to load that way, 3 ms each as calls."""
    return {cls: functools.partial(_reduce, tuple(f.name for f in dataclasses.fields(cls))) for cls in classes
            if all(f.init for f in dataclasses.fields(cls))}


def _reduce(names: tuple[str, ...], obj: Any) -> tuple[Any, ...]:
    return (type(obj), tuple(getattr(obj, n) for n in names))


def save(path: Path, stamp: Any) -> None:
    """Write atomically; a cache that cannot be written costs speed, never correctness."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# mlspec's render cache: safe to delete, never commit it\n*\n")
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as handle:
            sealed.dump(handle, (_FORMAT, stamp), _STAMP_TABLE)
        os.replace(tmp, path)
    except OSError:
        pass


def load(path: Path, kind: type) -> Any:
    try:
        with open(path, "rb") as handle:
            found = sealed.load(handle)
    except Exception:  # absent, truncated, from another mlspec: a stamp is only an accelerator
        return None
    if isinstance(found, tuple) and len(found) == 2 and found[0] == _FORMAT and isinstance(found[1], kind):
        return found[1]
    return None


def record_render(path: Path, before: Inputs, out: Path, code: Code, manifest_files: Iterable[str],
                  diagnostics: list[Diagnostic], specs: int, known: Mapping[str, Stat] | None = None) -> None:
    """Stamp a render that left `out` current. `before` was taken before the run read its inputs; `known`:
    stats this run already took of its output files (compiler.output.incremental checks or writes each)."""
    outputs: list[tuple[str, Stat]] = []
    base = str(out)
    known = known or {}
    for rel in [*manifest_files, f"{STATE_DIR}/{MANIFEST_NAME}"]:
        found = known.get(rel) or stat_of(f"{base}/{rel}")
        if found is None:
            return  # not as written: no stamp, the next run takes the normal path
        outputs.append((rel, found))
    if inputs(Path(before.root), out) != before:
        return  # an input changed while rendering: what was rendered may not be what is on disk now
    try:
        packed_outputs = packed(outputs)
    except OverflowError:
        return  # a stat beyond 64 bits: no stamp (it is only an accelerator)
    save_render(path, RenderStamp(before, list(code[0]), code[1], packed_outputs, diagnostics, specs))


def save_render(path: Path, stamp: RenderStamp) -> None:
    rest = sealed.pickled((stamp.outputs, stamp.diagnostics, stamp.specs), _STAMP_TABLE)
    save(path, _StoredRender(stamp.inputs, stamp.code, stamp.code_stats, rest))


def load_render(path: Path, now: Inputs | None = None) -> RenderStamp | None:
    """The render stamp at `path`; None when there is none, or (`now` given) its inputs are not `now`."""
    stored = load(path, _StoredRender)
    if stored is None or (now is not None and now != stored.inputs):
        return None
    try:
        outputs, diagnostics, specs = pickle.loads(stored.rest)
    except Exception:  # sealed, so written by this user's mlspec: one of another version
        return None
    return RenderStamp(stored.inputs, stored.code, stored.code_stats, outputs, diagnostics, specs)


def unchanged_render(out: Path) -> RenderStamp | None:
    """The stamp of the last render into `out` when nothing it depends on changed since; else None."""
    if not incremental_enabled() or targets_chosen_by_caller():
        return None
    root = run_root(None)
    stamp = load_render(render_stamp_path(root, out), inputs(root, out))
    if stamp is None:
        return None
    base = str(out)
    for rel, recorded in unpacked(stamp.outputs):
        if stat_of(f"{base}/{rel}") != recorded:
            return None
    if code_fingerprint(stamp.code) != stamp.code_stats:
        return None
    found: RenderStamp = stamp
    return found


_STAMP_TABLE.update(constructors(Diagnostic, Inputs, _StoredRender))
