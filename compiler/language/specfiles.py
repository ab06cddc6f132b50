"""Where a run's inputs are: the project root and its spec files, found without importing the language.

Kept free of pydantic and the targets: the stat-only paths (an unchanged render, a lint whose results
are cached; compiler.output.stamp) answer from here before anything heavy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from compiler.diagnostics import Diagnostic
from compiler.errors import EnvironmentFault

PROJECT_FILE = "mlspec.yaml"
# mlspec's own state in a rendered tree (manifest, rollout ledger, write journals): never a rendered file.
STATE_DIR = ".mlspec"
MANIFEST_NAME = "manifest.json"  # inside STATE_DIR
SPEC_SUFFIXES = (".yaml", ".yml")

Work = tuple[str, str, Path]  # (file as shown, path relative to the root, path)


def find_root(start: Path) -> Path:
    """The spec repository root: the nearest ancestor holding mlspec.yaml (or a .git), else `start`."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def run_root(paths: Sequence[Path] | None, root: Path | None = None) -> Path:
    """The root of a run over `paths` (default: the current directory's project)."""
    start = Path(paths[0]) if paths else Path.cwd()
    return (root or find_root(start if start.is_dir() else start.parent)).resolve()


def discover_specs(paths: Sequence[Path], root: Path) -> list[Path]:
    """Spec files named by `paths` (files, or directories searched recursively), sorted, deduplicated."""
    return _discover(paths)[0]


def _discover(paths: Sequence[Path]) -> tuple[list[Path], dict[Path, Path]]:
    """`discover_specs` with each path's resolution (`resolve_all`), which sorts them and which
    `work_items` needs again: resolving a thousand paths twice was a fifth of finding them."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(map(Path, spec_files_under(path, _unreadable_dir)))
        else:
            found.add(path)
    resolved = resolve_all(found)
    # By the file each path is, then as named: links to one file are several paths, and a set's order
    # (which changes with the hash seed) must not decide theirs.
    return sorted(found, key=lambda p: (resolved[p].as_posix(), p.as_posix())), resolved


def spec_files_under(directory: Path, onerror: Callable[[OSError], object] | None = None) -> Iterator[str]:
    """The spec files below `directory` (hidden directories skipped), in walk order: what a run over a
    directory reads, and what the render stamp (compiler.output.stamp) stats."""
    for dirpath, dirnames, filenames in os.walk(directory, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SPEC_SUFFIXES) and name != PROJECT_FILE:
                yield os.path.join(dirpath, name)


def resolve_all(paths: Iterable[Path]) -> dict[Path, Path]:
    """`path.resolve()` for each path, resolving each directory once: a thousand specs in one directory
    cost one lstat each instead of one per component of their path, twice (a sort key and the relative
    path). A name that is not a symlink resolves to its directory's resolution joined with the name."""
    directories: dict[Path, Path] = {}
    out: dict[Path, Path] = {}
    for path in paths:
        if path.name in ("", ".", "..") or os.path.islink(path):
            out[path] = path.resolve()
            continue
        parent = path.parent
        where = directories.get(parent)
        if where is None:
            where = directories[parent] = parent.resolve()
        out[path] = where / path.name
    return out


def _unreadable_dir(error: OSError) -> None:
    # os.walk skips what it cannot list: a lint would pass having checked nothing.
    raise EnvironmentFault("read directory", error.filename or "", error) from error


def display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path.as_posix()


def relative(path: Path, root: Path, resolved: Path | None = None) -> str:
    """`path` relative to `root` (posix), or its name when it lies elsewhere; `resolved`: path.resolve()."""
    try:
        return (resolved or path.resolve()).relative_to(root).as_posix()
    except ValueError:
        return path.name


def work_items(paths: Sequence[Path] | None, root: Path) -> tuple[list[Work], list[Path]]:
    """The spec files of a run as work items, and the named paths that are not files (missing)."""
    spec_paths, resolved = _discover(list(paths) if paths else [root / "specs"])
    is_file = [p.is_file() for p in spec_paths]
    files = [p for p, ok in zip(spec_paths, is_file, strict=True) if ok]
    missing = [p for p, ok in zip(spec_paths, is_file, strict=True) if not ok]
    return [(display(p), relative(p, root, resolved[p]), p) for p in files], missing


def missing_files(missing: Sequence[Path]) -> list[Diagnostic]:
    return [Diagnostic("MLS001", "no such file", file=display(p)) for p in missing]


def shared_spec_paths(work: Sequence[Work]) -> list[Diagnostic]:
    """Two spec files recorded under one spec path (`relative`: a spec outside the project root is
    recorded by its file name). The spec path is a spec's identity in the manifest, the caches and the
    per-spec shares of project-wide files: two specs under one would silently take each other's place."""
    first: dict[str, str] = {}
    found = []
    for file, rel, _ in work:
        if rel not in first:
            first[rel] = file
            continue
        found.append(Diagnostic(
            "MLS015", f"{file} and {first[rel]} are both recorded as the spec {rel!r}", file=file,
            hint="keep specs under the project root (the directory of mlspec.yaml): a spec outside it is "
                 "recorded by its file name alone, so give them different names or move them in"))
    return found
