"""`mlspec commit`: render into the deployment repository's working tree and commit only what mlspec owns.

Order of events, each step undoable until the last:
1. render every spec in memory (nothing touched when any spec has errors);
2. take the repository lock, switch branch, finish an interrupted earlier write;
3. refuse when managed files were hand-edited (working tree or HEAD), unless forced;
4. write the tree atomically (compiler.output.writer), then build the commit on a private index and move the
   branch with one compare-and-swap; if anything fails before the branch moves, the touched paths are
   put back exactly as they were.
A commit is made only when the tree differs from HEAD; its trailers name every changed spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.deploy import repo as git_ops
from compiler.deploy.drift import Drift, DriftReport, committed_drift, file_drift, ledger_drift, report
from compiler.errors import EnvironmentFault
from compiler.ledger.state import state_files, states_from_files
from compiler.output.lock import repo_lock
from compiler.output.manifest import PROJECT_OWNER, Manifest, load_manifest
from compiler.output.tree import planned_tree
from compiler.output.writer import MANIFEST, recover, write_tree
from compiler.pipeline import RunResult, run
from compiler.planning.plan import ActiveStage
from compiler.render.plugins import Registry

LOCK_NAME = "mlspec.lock"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(slots=True)
class HeadChange:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(slots=True)
class CommitOutcome:
    result: RunResult
    status: str  # "invalid" (spec errors), "refused" (hand edits), "unchanged", "committed"
    drift: DriftReport = field(default_factory=DriftReport)
    change: HeadChange = field(default_factory=HeadChange)
    sha: str | None = None
    message: str = ""
    pushed: str | None = None


class StateChanged(EnvironmentFault):
    """A file the caller read before rendering changed before the commit (another run got there first)."""


def commit(repo_dir: Path, paths: Sequence[Path] | None = None, *, branch: str | None = None,
           push: bool = False, remote: str = "origin", force: bool = False, message: str | None = None,
           root: Path | None = None, registry: Registry | None = None, lock_timeout: float = 60.0,
           jobs: int | None = None, rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None = None,
           extra_files: Mapping[str, bytes] | None = None, expect: Mapping[str, bytes | None] | None = None,
           trailers: Sequence[str] = (), hold_environments: Sequence[str] = ()) -> CommitOutcome:
    """Render `paths` (default: the project's specs/) into `repo_dir` and commit the change.

    The live rollout stages come from the repository's rollout state (compiler.ledger.state) unless
    `rollout_state` is given. `extra_files` (the rollout state and audit log) are committed with the
    render; `expect` maps paths to the bytes the caller based its change on (None: absent), checked
    under the lock, so two rollouts of one model cannot both win. `trailers` are added to the message.
    `hold_environments` keep their files as HEAD has them (compiler.deploy.hold).
    """
    repo = git_ops.open_repo(repo_dir)
    tree = Path(repo.working_tree_dir)
    read = state_files(tree) if rollout_state is None else None
    result = run(paths, root=root, render=True, registry=registry, jobs=jobs,
                 rollout_state=rollout_state if read is None else states_from_files(read))
    if not result.ok:
        return CommitOutcome(result, "invalid")
    with repo_lock(Path(repo.git_dir) / LOCK_NAME, lock_timeout):
        if branch:
            git_ops.switch_branch(repo, branch)
        recover(tree)
        if read is not None and state_files(tree) != read:
            # A rollout moved a stage while we rendered: render again, or we would undo its commit.
            read = state_files(tree)
            result = run(paths, root=root, render=True, registry=registry, jobs=jobs,
                         rollout_state=states_from_files(read))
            if not result.ok:
                return CommitOutcome(result, "invalid")
        for rel, wanted in (expect or {}).items():
            path = tree / rel
            if (path.read_bytes() if path.is_file() else None) != wanted:
                raise StateChanged(f"{rel} changed since it was read: another run committed first; run again")
        if rollout_state is None:
            # The stages we render come from the rollout state: never from one git history does not vouch for.
            forged = ledger_drift(tree)
            if forged:
                return CommitOutcome(result, "refused", report(forged))
        drift = hand_edits(repo, tree)
        if drift.items and not force:
            return CommitOutcome(result, "refused", drift)
        files, orphans = planned_tree(result, tree, full=not paths)
        if hold_environments:
            from compiler.deploy.hold import hold, is_held

            held = [rel for rel in (*files, *orphans) if is_held(rel, hold_environments)]
            files, orphans = hold(files, orphans, git_ops.committed_blobs(repo, [*held, MANIFEST]),
                                  hold_environments)
        files.update(extra_files or {})
        touched = sorted(set(files) | set(orphans))
        head = git_ops.committed_blobs(repo, touched)
        change = head_change(files, orphans, head)
        outcome = CommitOutcome(result, "unchanged", drift, change)
        saved = git_ops.snapshot(tree, touched)
        try:
            write_tree(tree, files, orphans)
            if not change.empty:
                new = Manifest(**_manifest_fields(files[MANIFEST]))
                old = Manifest(**_manifest_fields(head[MANIFEST])) if MANIFEST in head else Manifest()
                outcome.message = commit_message(change, new, old, message, trailers)
                made = git_ops.commit_paths(repo, touched, outcome.message)
                if made is not None:
                    outcome.status, outcome.sha = "committed", made.sha
        except BaseException:
            git_ops.restore(tree, saved)
            raise
        if push:
            try:
                outcome.pushed = git_ops.push(repo, remote, branch)
            except git_ops.GitError as exc:
                raise PushFailed(_unpublished(repo, tree, outcome, remote, branch, exc)) from exc
    return outcome


class PushFailed(git_ops.GitError):
    """The commit exists locally but did not reach the remote; the message says how to publish it."""


def _unpublished(repo: Any, tree: Path, outcome: CommitOutcome, remote: str, branch: str | None,
                 exc: Exception) -> str:
    head = git_ops.head_sha(repo) or "?"
    target = branch or git_ops.current_branch(repo) or "<branch>"
    made = (f"committed {head[:12]} locally" if outcome.status == "committed"
            else f"nothing new to commit; HEAD {head[:12]} is")
    return (f"{exc}\n{made} in {tree}, but it is not on {remote}: the deployment does not change until it is "
            f"pushed. Publish it with `git -C {tree} push {remote} HEAD:refs/heads/{target}` once the remote "
            "accepts it (if the remote moved, pull --rebase first)")


def hand_edits(repo: Any, tree: Path) -> DriftReport:
    """Managed files whose content is not what mlspec rendered, in the working tree or in HEAD."""
    found: list[Drift] = []
    manifest = load_manifest(tree)
    if manifest is not None:
        found.extend(d for d in file_drift(tree, manifest) if d.kind == "modified")
    head_manifest_blob = git_ops.committed_blobs(repo, [MANIFEST]).get(MANIFEST)
    if head_manifest_blob is not None:
        try:
            head_manifest = Manifest(**_manifest_fields(head_manifest_blob))
        except ValueError:
            head_manifest = None
        if head_manifest is not None:
            blobs = git_ops.committed_blobs(repo, head_manifest.files)
            found.extend(committed_drift(head_manifest, blobs))
    return report(found)


def _manifest_fields(blob: bytes) -> dict[str, Any]:
    data = json.loads(blob)
    if not isinstance(data, dict):
        raise ValueError("manifest is not an object")
    return {"compiler": str(data.get("compiler", "")), "specs": dict(data.get("specs", {})),
            "files": dict(data.get("files", {}))}


def head_change(files: Mapping[str, bytes], orphans: Sequence[str], head: Mapping[str, bytes]) -> HeadChange:
    change = HeadChange()
    for rel, data in sorted(files.items()):
        if rel not in head:
            change.added.append(rel)
        elif head[rel] != data:
            change.changed.append(rel)
    change.removed = sorted(rel for rel in orphans if rel in head and rel not in files)
    return change


def _clean(value: object) -> str:
    return _CONTROL.sub(" ", str(value)).strip()


def changed_specs(change: HeadChange, new: Manifest, old: Manifest) -> tuple[list[str], list[str]]:
    """(specs rendered differently, specs removed) between the committed and the new manifest."""
    touched: set[str] = set()
    for rel in [*change.added, *change.changed]:
        if rel in new.files:
            touched.add(str(new.files[rel].get("spec", "")))
    for rel in change.removed:
        if rel in old.files:
            touched.add(str(old.files[rel].get("spec", "")))
    for rel, entry in new.specs.items():
        if old.specs.get(rel) != entry:
            touched.add(rel)
    removed = sorted(rel for rel in old.specs if rel not in new.specs)
    updated = sorted(rel for rel in touched if rel in new.specs)
    return updated, removed


def commit_message(change: HeadChange, new: Manifest, old: Manifest, subject: str | None = None,
                   extra_trailers: Sequence[str] = ()) -> str:
    updated, removed = changed_specs(change, new, old)
    names = [_clean(new.specs[rel].get("name", rel)) for rel in updated]
    if subject:
        head = subject.strip()
    elif len(updated) == 1 and not removed:
        head = f"mlspec: render {names[0]} (model {_clean(new.specs[updated[0]].get('model_version', '?'))})"
    elif removed and not updated:
        head = f"mlspec: remove {', '.join(_clean(old.specs[r].get('name', r)) for r in removed)}"
    else:
        head = f"mlspec: render {len(updated)} model(s)" + (f", remove {len(removed)}" if removed else "")
    files = [p for p in [*change.added, *change.changed, *change.removed] if p != MANIFEST]
    body = [f"Rendered by mlspec {__version__}: {len(change.added)} added, {len(change.changed)} changed, "
            f"{len(change.removed)} removed file(s) (manifest included)."]
    project = sorted(p for p in files if new.files.get(p, old.files.get(p, {})).get("spec") == PROJECT_OWNER)
    if project:
        body.append(f"Project-wide files: {len(project)}.")
    trailers = []
    for rel in updated:
        entry = new.specs[rel]
        trailers += [
            f"Spec: {_clean(rel)}",
            f"Spec-Digest: sha256:{_clean(entry.get('spec_digest', ''))}",
            f"Plan-Digest: sha256:{_clean(entry.get('plan_digest', ''))}",
            f"Compiler-Version: {__version__}",
            f"Model-Version: {_clean(entry.get('model_version', ''))}",
            f"Data-Hash: {_clean(entry.get('data_hash', ''))}",
        ]
    trailers += [f"Removed-Spec: {_clean(rel)}" for rel in removed]
    trailers += [_clean(t) for t in extra_trailers]
    if not trailers:
        trailers = [f"Compiler-Version: {__version__}"]
    return f"{head}\n\n" + "\n".join(body) + "\n\n" + "\n".join(trailers) + "\n"
