"""Lint results kept by spec content: a spec is checked again only when something it depends on changed.

A spec's diagnostics are a function of its bytes, its path (as shown and relative to the root) and the
run's context: mlspec.yaml, the installed code (compiler, targets, plugins on sys.path; compiler.output.stamp)
and the current directory. The cache (`lint.pickle` in the render cache's directory) keeps, per spec,
the digest of those bytes and path with the diagnostics they produced. A lint whose specs all match
reports from the cache without importing the spec language or any target; otherwise only the specs
that changed are checked. `MLSPEC_INCREMENTAL=0` checks everything. tests/test_lint_cache.py checks
that the cached report equals a full lint's after random edits.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.collector import collector, spaced
from compiler.diagnostics import Diagnostic, sort_diagnostics
from compiler.language.specfiles import PROJECT_FILE, Work, missing_files, run_root, shared_spec_paths, work_items
from compiler.output import stamp


@dataclass(slots=True)
class _Entry:
    key: str  # sha256 of (file as shown, path relative to the root, bytes)
    stat: stamp.Stat | None  # taken before the bytes were read
    diagnostics: list[Diagnostic]


@dataclass(slots=True)
class LintCache:
    context: list[Any]  # the interpreter, sys.path, the current directory and mlspec.yaml's bytes
    code: list[str]  # package directories
    code_stats: list[tuple[str, int, int]]
    diagnostics: list[Diagnostic]  # the context's own (mlspec.yaml, target settings, plugins)
    specs: dict[str, _Entry] = field(default_factory=dict)  # by path relative to the root


@dataclass(slots=True)
class Linted:
    diagnostics: list[Diagnostic]
    specs: int
    checked: int  # specs checked in this run (the others came from the cache)


def _context(root: Path) -> list[Any]:
    try:
        project = (root / PROJECT_FILE).read_bytes()
    except OSError:
        project = None
    return [str(root), stamp.environment(), project]


def _cached(item: Work, entry: _Entry | None) -> tuple[_Entry | None, stamp.Stat | None, str | None, bytes | None]:
    """The entry when it still holds for the spec on disk, and the spec's stat, key and bytes as read now
    (no bytes when the stat matched).

    The shown name and the relative path are part of the cache's context (same root and current
    directory), so an unchanged stat means unchanged bytes under the same key, as for compiler.output.stamp.
    """
    found = stamp.stat_of(str(item[2]))
    if entry is not None and found is not None and found == entry.stat:
        return entry, found, entry.key, None
    try:
        raw = item[2].read_bytes()
    except OSError:
        return None, None, None, None  # the checker reports it
    key = stamp.spec_key(item, raw)
    return (entry if entry is not None and entry.key == key else None), found, key, raw


def lint(paths: Sequence[Path] | None, jobs: int | None = None) -> Linted:
    """Lint like compiler.pipeline.run(paths, keep_plans=False), reusing cached results of unchanged specs."""
    root = run_root(paths)
    work, missing = work_items(paths, root)
    path = stamp.cache_base(root) / "lint.pickle"
    context = _context(root)
    enabled = stamp.incremental_enabled() and not stamp.targets_chosen_by_caller()
    cache: LintCache | None = stamp.load(path, LintCache) if enabled else None
    if cache is not None and (cache.context != context or stamp.code_fingerprint(cache.code) != cache.code_stats):
        cache = None
    entries: dict[str, _Entry] = {}
    todo: list[Work] = []
    keys: dict[str, tuple[str, stamp.Stat | None]] = {}
    # The bytes each key was computed from are the bytes checked (not read again by the checker): a spec
    # edited in between cannot leave its old diagnostics under its new key and stat.
    sources: dict[Work, bytes] = {}
    for item in work:
        hit, stat, key, raw = _cached(item, cache.specs.get(item[1]) if cache is not None else None)
        if hit is not None:
            entries[item[1]] = hit
        else:
            todo.append(item)
            if key is not None and raw is not None:
                keys[item[1]] = (key, stat)
                sources[item] = raw
    context_diagnostics = cache.diagnostics if cache is not None else []
    if todo or cache is None:
        # Start-up (the pipeline's and the targets' modules, the context, the first spec's validators)
        # allocates objects that live for the whole run: the collector's ~90 passes over them were ~5% of
        # one spec's cold lint and freed ~1,000 small objects. Collection resumes once they are frozen.
        with collector(False):
            from compiler.language.yamlsource import MAX_BYTES
            from compiler.pipeline import _run_all, make_context

            # One the loader refuses by its size is read by the checker, which refuses it before reading.
            sources = {item: raw for item, raw in sources.items() if len(raw) <= MAX_BYTES}
            checked = make_context(root)
            context_diagnostics = list(checked.diagnostics)
            # What is alive now (modules, models, the context) lives for the whole run: frozen, the
            # collector's full passes skip it while each spec's short-lived objects come and go (a few
            # percent of a lint), and forked workers do not touch its pages to collect it.
            gc.freeze()
        try:
            with spaced():
                results = _run_all(todo, checked, False, jobs, keep_plans=False, sources=sources)
        finally:
            gc.unfreeze()
        for result in results:
            if result.rel_path in keys:
                key, stat = keys[result.rel_path]
                entries[result.rel_path] = _Entry(key, stat, list(result.diagnostics))
            else:  # unreadable: reported, never cached
                entries[result.rel_path] = _Entry("", None, list(result.diagnostics))
        if enabled:
            kept = {} if not paths or cache is None else dict(cache.specs)
            kept.update((rel, e) for rel, e in entries.items() if e.key)
            code, code_stats = stamp.installed_code(checked.targets)
            stamp.save(path, LintCache(context, code, code_stats, context_diagnostics, kept))
    found = [*context_diagnostics, *missing_files(missing), *shared_spec_paths(work)]
    for item in work:
        found.extend(entries[item[1]].diagnostics)
    return Linted(sort_diagnostics(found), len(work), len(todo))
