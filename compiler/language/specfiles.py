"""Where a run's inputs are: the project root and its spec files, found without importing the language.

Kept free of pydantic and the targets: the stat-only paths (an unchanged render, a lint whose results
are cached; compiler.output.stamp) answer from here before anything heavy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
    return [found.path for found in _discover(paths, root)]


@dataclass(slots=True)
class _Found:
    """A spec path a run names or finds, with what a run needs of it (all text but `path`)."""

    path: Path
    named: str  # str(path): as named, normalised as Path does (duplicates are equal)
    resolved: str  # path.resolve()
    shown: str  # `display(path)`
    rel: str  # `relative(path, root)`
    is_file: bool


def _discover(paths: Sequence[Path], root: Path) -> list[_Found]:
    """What `paths` name and hold, deduplicated, in order: by the file each path is, then as named (links to
    one file are several paths, and a set's order, which changes with the hash seed, must not decide theirs).

    A directory's specs are found on text, a directory at a time: its resolution, shown form and place
    under the root are each worked out once and joined with each file's name, unless the file is a link.
    With `Path` objects and a resolution per file, finding 1,000 specs took 28 ms of every run's start."""
    found: dict[str, _Found] = {}
    for path in paths:
        if path.is_dir():
            for directory, names in _spec_names_under(path, _unreadable_dir):
                _add_directory(found, directory, names, root)
        else:
            named = str(path)
            if named not in found:
                found[named] = _one(path, root)
    return sorted(found.values(), key=lambda f: (f.resolved, f.named))


def _one(path: Path, root: Path) -> _Found:
    resolved = path.resolve()
    return _Found(path, str(path), str(resolved), display(path), relative(path, root, resolved), path.is_file())


def _add_directory(found: dict[str, _Found], directory: str, names: list[str], root: Path) -> None:
    folder = Path(directory)
    prefix = "" if str(folder) == "." else os.path.join(str(folder), "")
    where = folder.resolve()
    resolved = os.path.join(str(where), "")
    shown = os.path.join(display(folder), "")
    shown = "" if shown == "./" else shown
    try:
        rel: str | None = os.path.join(where.relative_to(root).as_posix(), "")
    except ValueError:
        rel = None  # outside the root: a spec there is recorded by its name
    rel = "" if rel == "./" else rel
    for name in names:
        named = prefix + name
        if named in found:
            continue
        if os.path.islink(named):  # resolves to wherever it points
            found[named] = _one(Path(named), root)
            continue
        path = folder / name
        found[named] = _Found(path, named, resolved + name, shown + name, name if rel is None else rel + name,
                              path.is_file())


def _spec_names_under(directory: Path, onerror: Callable[[OSError], object] | None = None,
                      ) -> Iterator[tuple[str, list[str]]]:
    """Each directory below `directory` (hidden ones skipped) with the names of its spec files, in walk order."""
    for dirpath, dirnames, filenames in os.walk(directory, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = [n for n in sorted(filenames) if n.endswith(SPEC_SUFFIXES) and n != PROJECT_FILE]
        if names:
            yield dirpath, names


def spec_files_under(directory: Path, onerror: Callable[[OSError], object] | None = None) -> Iterator[str]:
    """The spec files below `directory` (hidden directories skipped), in walk order: what a run over a
    directory reads, and what the render stamp (compiler.output.stamp) stats."""
    for dirpath, names in _spec_names_under(directory, onerror):
        for name in names:
            yield os.path.join(dirpath, name)


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
    found = _discover(list(paths) if paths else [root / "specs"], root)
    return [(f.shown, f.rel, f.path) for f in found if f.is_file], [f.path for f in found if not f.is_file]


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
