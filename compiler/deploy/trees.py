"""The two trees a diff compares: a fresh in-memory render against a rendered directory, or against
the render of the same specs at another git ref of the spec repository (a pull request's base)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler.deploy.review import SpecSide, spec_sides
from compiler.diagnostics import Diagnostic, Severity
from compiler.language.specfiles import STATE_DIR, run_root
from compiler.output.manifest import load_manifest
from compiler.output.tree import planned_tree
from compiler.output.writer import MANIFEST
from compiler.pipeline import RunResult, run
from compiler.render.plugins import Registry


@dataclass(slots=True)
class Trees:
    old: dict[str, bytes]
    new: dict[str, bytes]
    result: RunResult  # the current render
    notes: list[Diagnostic] = field(default_factory=list)  # problems of the base side, as warnings
    label: str = ""
    # For the review comment: each side's specs per model (the base side only for --base), and the
    # live stage per model and environment (only when comparing with a deployment repository).
    old_specs: dict[str, SpecSide] = field(default_factory=dict)
    new_specs: dict[str, SpecSide] = field(default_factory=dict)
    live: dict[str, dict[str, str]] = field(default_factory=dict)


def _read_dir(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in (".git", STATE_DIR) or not path.is_file():
            continue
        out[rel.as_posix()] = path.read_bytes()
    return out


def against_dir(directory: Path, paths: Sequence[Path] | None = None, *, root: Path | None = None,
                registry: Registry | None = None) -> Trees:
    """What `mlspec render --out DIRECTORY` (or `commit`) would change there, file by file."""
    from compiler.ledger.state import load_states

    states = load_states(directory)
    result = run(paths, root=root, render=True, registry=registry, rollout_state=states)
    if not result.ok:
        return Trees({}, {}, result, label=str(directory))
    live = {model: {env: active.stage for env, active in envs.items()} for model, envs in states.items()}
    files, orphans = planned_tree(result, directory, full=not paths)
    new = {k: v for k, v in files.items() if k != MANIFEST}
    if load_manifest(directory) is None:
        old = _read_dir(directory) if directory.is_dir() and not paths else {}
        if paths:
            old = {rel: (directory / rel).read_bytes() for rel in new if (directory / rel).is_file()}
    else:
        old = {rel: (directory / rel).read_bytes() for rel in sorted({*new, *orphans}) if (directory / rel).is_file()}
    return Trees(old, new, result, label=str(directory), new_specs=spec_sides(result, result.context.root),
                 live=live)


def against_ref(ref: str, paths: Sequence[Path] | None = None, *, root: Path | None = None,
                registry: Registry | None = None) -> Trees:
    """The render of the specs at `ref` (in a temporary worktree) against the current render."""
    from compiler.deploy import repo as git_ops

    project = run_root(paths, root)
    result = run(paths, root=project, render=True, registry=registry)
    if not result.ok:
        return Trees({}, {}, result, label=ref)
    spec_repo = git_ops.open_spec_repo(project)
    top = Path(spec_repo.working_tree_dir).resolve()
    try:
        inside = project.relative_to(top)
    except ValueError as exc:
        raise git_ops.GitError(f"{project} is not inside {top}") from exc
    with git_ops.worktree_at(spec_repo, ref) as worktree:
        base_root = worktree / inside
        base_paths: list[Path] | None = None
        if paths:
            base_paths = []
            for path in paths:
                try:
                    rel = path.resolve().relative_to(project)
                except ValueError:
                    continue
                if (base_root / rel).exists():
                    base_paths.append(base_root / rel)
        if paths and not base_paths:
            return Trees({}, result.files(), result, label=ref)  # every named spec is new since `ref`
        base = run(base_paths, root=base_root, render=True, registry=registry)
        old_specs = spec_sides(base, base_root)
    notes = [Diagnostic(d.code, f"at {ref}: {d.message}", Severity.WARNING, d.path, d.file, d.line, d.col,
                        "the base render is incomplete, so the diff may show more than the change")
             for d in base.diagnostics if d.is_error]
    return Trees(base.files(), result.files(), result, notes, label=ref, old_specs=old_specs,
                 new_specs=spec_sides(result, project))
