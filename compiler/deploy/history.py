"""What git history says about the rollout records: the facts compiler.ledger.verify checks.

Rollout commits are found by their trailers (`Rollout-Model`, `Rollout-Environment`, `Rollout-Stage`,
`Audit-Seq`, `Audit-Record`) among the commits that touched the state directory or the audit log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.deploy import repo as git_ops
from compiler.ledger import verify
from compiler.ledger.audit import AUDIT_DIR
from compiler.ledger.state import STATE_DIR, StateError

_KEYS = ("Rollout-Model", "Rollout-Environment", "Rollout-Stage", "Audit-Seq", "Audit-Record")
_FIELD, _VALUE, _COMMIT = "\x1f", "\x1e", "\x1d"


def rollout_commits(repo: Any) -> list[verify.RolloutCommit]:
    """Every rollout commit reachable from HEAD, oldest first."""
    if git_ops.head_sha(repo) is None:
        return []
    fields = _FIELD.join(f"%(trailers:key={k},valueonly,separator=%x1e)" for k in _KEYS)
    try:
        out = str(repo.git.log("--reverse", f"--format=%H{_FIELD}{fields}{_COMMIT}", "--", STATE_DIR, AUDIT_DIR))
    except Exception as exc:  # gitpython raises GitCommandError; any failure means we cannot vouch
        raise git_ops.GitError(f"cannot read the history of {STATE_DIR} and {AUDIT_DIR}: {exc}") from exc
    found: list[verify.RolloutCommit] = []
    for chunk in out.split(_COMMIT):
        parts = chunk.strip().split(_FIELD)
        if len(parts) != len(_KEYS) + 1:
            continue
        sha, *values = parts
        model, env, stage, seq, record = (v.split(_VALUE)[-1].strip() for v in values)
        if not model or not record:
            continue  # not a rollout commit (a plain commit that touched these paths)
        found.append(verify.RolloutCommit(sha, model, env, stage, int(seq) if seq.isdigit() else None, record))
    return found


def _models(tree: Path, head: set[str], commits: list[verify.RolloutCommit]) -> list[str]:
    names = {c.model for c in commits}
    for base, suffix in ((tree / STATE_DIR, ".json"), (tree / AUDIT_DIR, ".jsonl")):
        if base.is_dir():
            names.update(p.name[: -len(suffix)] for p in base.iterdir() if p.name.endswith(suffix))
    for rel in head:
        if rel.startswith(f"{STATE_DIR}/") and rel.endswith(".json"):
            names.add(rel[len(STATE_DIR) + 1: -len(".json")])
        elif rel.startswith(f"{AUDIT_DIR}/") and rel.endswith(".jsonl"):
            names.add(rel[len(AUDIT_DIR) + 1: -len(".jsonl")])
    return sorted(names)


def facts(repo: Any, models: list[str] | None = None) -> list[verify.Facts]:
    """Per model (default: every model with records in the tree, HEAD or history), git's facts."""
    tree = Path(repo.working_tree_dir)
    commits = rollout_commits(repo)
    tracked = git_ops.tracked_in_head(repo)
    shallow = str(repo.git.rev_parse("--is-shallow-repository")).strip() == "true"
    out: list[verify.Facts] = []
    for model in models if models is not None else _models(tree, tracked, commits):
        try:
            rels = verify.paths(model)
        except StateError:
            continue  # a file name that is no model name: never written by mlspec, reported nowhere else
        head = git_ops.committed_blobs(repo, rels)
        worktree = {rel: ((tree / rel).read_bytes() if (tree / rel).is_file() else None) for rel in rels}
        out.append(verify.Facts(model, worktree, {rel: head.get(rel) for rel in rels},
                                [c for c in commits if c.model == model], shallow))
    return out


def problems(repo: Any, models: list[str] | None = None) -> list[verify.Problem]:
    return [p for f in facts(repo, models) for p in verify.check(f)]

