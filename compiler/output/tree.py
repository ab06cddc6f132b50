"""Rendering to a directory: the tree plus its manifest, written atomically (a full render stages each spec's
files as it arrives: compiler.output.staged) or compared in memory (`--check`)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler.output.manifest import build_manifest, load_manifest
from compiler.output.stamp import incremental_enabled
from compiler.output.writer import MANIFEST, recover, write_tree
from compiler.pipeline import RunResult, run
from compiler.render.plugins import Registry


@dataclass(slots=True)
class TreeChange:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def planned_tree(result: RunResult, out: Path, *, full: bool) -> tuple[dict[str, bytes], list[str]]:
    """The files to write (manifest included) and the orphans to remove under `out`.

    A partial render (some specs) keeps the project-wide files already there: they are a function of
    every spec, and rendering them from a few would drop the others' routes and owners.
    """
    previous = load_manifest(out)
    if not full and previous is not None:
        result = dataclasses.replace(result, project_files={}, project_file_targets={},
                                     project_file_resources={})
    manifest = build_manifest(result, previous, full=full)
    files = result.files()
    files[MANIFEST] = manifest.to_json().encode()
    orphans = sorted(set(previous.files) - set(manifest.files)) if previous else []
    return files, orphans


def compare(out: Path, files: dict[str, bytes], orphans: list[str]) -> TreeChange:
    change = TreeChange()
    for rel, data in sorted(files.items()):
        target = out / rel
        if not target.is_file():
            change.added.append(rel)
        elif target.read_bytes() != data:
            change.changed.append(rel)
        else:
            change.unchanged += 1
    change.removed = [rel for rel in orphans if (out / rel).exists()]
    return change


def render_to(out: Path, paths: Sequence[Path] | None = None, *, check: bool = False,
              registry: Registry | None = None, jobs: int | None = None) -> tuple[RunResult, TreeChange | None]:
    """Render specs (default: the project's specs/) into `out`. Nothing is written when anything fails.

    The rollout stages live in `out` are read from its rollout state (compiler.ledger.state).
    """
    from compiler.ledger.state import load_states

    if not paths and incremental_enabled():
        return _render_incremental(out, check=check, registry=registry, jobs=jobs)
    result = run(paths, render=True, registry=registry, jobs=jobs, rollout_state=load_states(out))
    if not result.ok:
        return result, None
    if check or not (out / ".git").is_dir():
        return result, _write(result, out, full=not paths, check=check)
    # In a deployment repository, `mlspec commit` may be running: share its lock.
    from compiler.output.lock import repo_lock

    with repo_lock(out / ".git" / "mlspec.lock"):
        return result, _write(result, out, full=not paths, check=check)


def _render_incremental(out: Path, *, check: bool, registry: Registry | None,
                        jobs: int | None) -> tuple[RunResult, TreeChange | None]:
    """A full render that plans and renders only the specs whose inputs changed (compiler.output.incremental)."""
    if not check and out.is_dir():
        recover(out)  # finish an interrupted earlier write before trusting the tree
    if check or not (out / ".git").is_dir():
        return _incremental_write(out, check=check, registry=registry, jobs=jobs)
    from compiler.output.lock import repo_lock

    with repo_lock(out / ".git" / "mlspec.lock"):
        return _incremental_write(out, check=check, registry=registry, jobs=jobs)


def _incremental_write(out: Path, *, check: bool, registry: Registry | None,
                       jobs: int | None) -> tuple[RunResult, TreeChange | None]:
    from compiler.collector import collector

    # The bookkeeping around rendering (staging, the cache, the stamp) makes no reference cycles, and after
    # a first render the collector's full passes over the ~2M objects it keeps cost ~0.2 s each.
    with collector(False):
        try:
            return _incremental_steps(out, check=check, registry=registry, jobs=jobs)
        finally:
            gc.unfreeze()  # what render_incremental froze, once the run's bookkeeping is done


def _incremental_steps(out: Path, *, check: bool, registry: Registry | None,
                       jobs: int | None) -> tuple[RunResult, TreeChange | None]:
    from compiler.language.specfiles import run_root
    from compiler.ledger.state import load_states
    from compiler.output import stamp
    from compiler.output.incremental import orphans, remember, render_incremental
    from compiler.output.staged import StageEach

    before = stamp.inputs(run_root(None), out)  # before anything is read (compiler.output.stamp)
    with contextlib.ExitStack() as stack:  # leaving it without commit() discards what was staged
        sink = None if check else StageEach(out, stack)  # a check writes nothing: it compares in memory
        if sink is not None:
            sink.open_if_fresh()
        done = render_incremental(out, registry=registry, jobs=jobs, rollout_state=load_states(out), sink=sink)
        if not done.result.ok:
            return done.result, None
        removed = orphans(out, done)
        if sink is None:
            change = compare(out, done.files, removed)
        else:
            session = sink.open() if done.files or removed or sink.session else None
            change = TreeChange()
            if session is not None:
                session.stage(done.files, removed)
                change = TreeChange(sorted(session.added), sorted(session.changed), sorted(session.removed),
                                    len(session.unchanged))
                session.commit()
        change.unchanged += done.reused
    wrote = not check and not change.empty
    if not check or change.empty:
        remember(done, out, wrote)
        if registry is None and not stamp.targets_chosen_by_caller():  # the stamp knows the installed ones
            stamp.record_render(stamp.render_stamp_path(done.result.context.root, out), before, out, done.code,
                                done.listed, done.result.diagnostics, len(done.result.specs), done.index.stats)
    return done.result, change


def _write(result: RunResult, out: Path, *, full: bool, check: bool) -> TreeChange:
    if not check and out.is_dir():
        recover(out)  # finish an interrupted earlier write before comparing against the tree
    files, orphans = planned_tree(result, out, full=full)
    change = compare(out, files, orphans)
    if not check and not change.empty:
        write_tree(out, files, orphans)
    return change
