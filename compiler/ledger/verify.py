"""Cross-checks of the rollout records against each other and against git history.

Every rollout transition is one commit that changes the state file, appends one audit record and
carries `Rollout-Model`, `Audit-Seq` and `Audit-Record` trailers naming that record. So, per model:

- the state file and the audit log in the working tree are what HEAD committed (an uncommitted edit
  would otherwise be swept into the next rollout commit and verify as if mlspec had written it);
- the log is a valid hash chain (compiler.ledger.audit.verify);
- every rollout commit's record is in the log with that seq and digest (a dropped last record, a
  deleted log, a rewritten record all fail this), and every record in the log was written by a
  rollout commit (a record appended by hand and committed with plain git fails this);
- each environment's state (version, stage, since) is the one its last audit record moved it to
  (a hand-written `stage: full` fails this).

The facts come in as data (compiler.deploy.history reads them from git), so this module needs no git.
What it cannot catch: someone who forges a record, the state and matching trailers in one commit.
Protect the deployment branch (required reviews, signed commits) for that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.ledger import audit
from compiler.ledger.state import StateError, parse_state, state_path


@dataclass(frozen=True, slots=True)
class RolloutCommit:
    """A commit made by `mlspec rollout`, as its trailers describe it."""

    sha: str
    model: str
    environment: str
    stage: str
    seq: int | None
    record: str  # the Audit-Record digest


@dataclass(frozen=True, slots=True)
class Problem:
    model: str
    path: str  # the file the problem is in (state file or audit log)
    detail: str
    where: str = "HEAD"  # or "working tree" for an uncommitted change

    def text(self) -> str:
        return f"{self.path}: {self.detail}"


@dataclass(slots=True)
class Facts:
    """What git says about one model's records."""

    model: str
    worktree: dict[str, bytes | None] = field(default_factory=dict)  # path -> bytes (None: absent)
    head: dict[str, bytes | None] = field(default_factory=dict)
    commits: list[RolloutCommit] = field(default_factory=list)  # oldest first
    shallow: bool = False  # history is cut off: older commits are not visible


def paths(model: str) -> tuple[str, str]:
    return state_path(model), audit.audit_path(model)


def check(facts: Facts) -> list[Problem]:
    model = facts.model
    state_rel, log_rel = paths(model)
    problems: list[Problem] = []
    hint = (f"rollout records change only in `mlspec rollout` commits; restore them with `git checkout HEAD -- "
            f"{state_rel} {log_rel}`")
    for rel in (state_rel, log_rel):
        if facts.worktree.get(rel) != facts.head.get(rel):
            change = _change(facts.head.get(rel), facts.worktree.get(rel))
            problems.append(Problem(model, rel, f"uncommitted change ({change}); {hint}", "working tree"))
    try:
        records = audit.read_log(facts.head.get(log_rel), log_rel)
        audit.verify(records, log_rel)
    except audit.AuditError as exc:
        return [*problems, Problem(model, log_rel, str(exc))]
    problems += _against_history(model, log_rel, records, facts)
    raw_state = facts.head.get(state_rel)
    if raw_state is not None:
        try:
            state = parse_state(raw_state, state_rel)
        except StateError as exc:
            return [*problems, Problem(model, state_rel, str(exc))]
        problems += _against_state(model, state_rel, {e: (s.version, s.stage, s.since)
                                                      for e, s in state.environments.items()}, records)
    elif records:
        problems.append(Problem(model, state_rel, f"missing, but {log_rel} records {len(records)} transition(s)"))
    return problems


def _change(head: bytes | None, worktree: bytes | None) -> str:
    if head is None:
        return "not in HEAD"
    if worktree is None:
        return "deleted"
    return "differs from HEAD"


def _against_history(model: str, log_rel: str, records: Sequence[dict[str, Any]], facts: Facts) -> list[Problem]:
    problems: list[Problem] = []
    by_seq = {r.get("seq"): r for r in records}
    for made in facts.commits:
        found = by_seq.get(made.seq)
        if found is None:
            problems.append(Problem(model, log_rel, f"record {made.seq} of rollout commit {made.sha[:12]} "
                                                    f"({made.environment}: -> {made.stage}) is missing from the log"))
        elif audit.record_digest(found) != made.record:
            problems.append(Problem(model, log_rel, f"record {made.seq} is not the one rollout commit {made.sha[:12]} "
                                                    f"wrote ({made.record[:19]}...)"))
    written = {c.record for c in facts.commits}
    oldest = min((c.seq for c in facts.commits if c.seq is not None), default=None)
    for record in records:
        seq = record.get("seq")
        if facts.shallow and (oldest is None or not isinstance(seq, int) or seq < oldest):
            continue  # written before the visible history starts
        if audit.record_digest(record) not in written:
            problems.append(Problem(model, log_rel, f"record {seq} was not written by a rollout commit "
                                                    "(no commit carries its Audit-Record trailer)"))
    return problems


def _against_state(model: str, state_rel: str, envs: Mapping[str, tuple[str, str, str]],
                   records: Sequence[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    last: dict[str, dict[str, Any]] = {}
    for each in records:
        where = each.get("where")
        if isinstance(where, dict) and isinstance(where.get("environment"), str):
            last[where["environment"]] = each
    for env, (version, stage, since) in sorted(envs.items()):
        record = last.get(env)
        if record is None:
            problems.append(Problem(model, state_rel, f"{env} is at {stage} (version {version}) but no audit "
                                                      "record moved it there"))
            continue
        what = record.get("what") if isinstance(record.get("what"), dict) else {}
        told = (str((what or {}).get("model_version")), str(record["where"].get("stage")), str(record.get("at")))
        if told != (version, stage, since):
            problems.append(Problem(model, state_rel, f"{env} says version {version} at {stage} since {since}, "
                                                      f"its last audit record (seq {record.get('seq')}) says "
                                                      f"version {told[0]} at {told[1]} since {told[2]}"))
    for env in sorted(set(last) - set(envs)):
        final = last[env]
        problems.append(Problem(model, state_rel, f"has no entry for {env}, where audit record "
                                                  f"{final.get('seq')} moved it to {final['where'].get('stage')}"))
    return problems
