"""`status`, `advance` and `rollback`: read the rollout state, ask the gate, commit the next stage.

Every transition is one commit made by compiler.deploy.commit: the model's spec re-rendered at the new
stage (the environment's kustomization.yaml selects it), the rollout state and one appended audit
record, with trailers. The state is compare-and-swapped under the repository lock, so two runs for
one model cannot both move it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.errors import UsageError
from compiler.ledger import audit
from compiler.ledger.state import EnvState, ModelState, now, parse_timestamp, read_state, state_path, timestamp
from compiler.live.prometheus import PrometheusError, Sample, query, rules
from compiler.planning.plan import ActiveStage, Plan, StagePlan
from compiler.render.plugins import RolloutOutput, Target
from compiler.rollout import health

ROLLBACK = "rollback"
# A manual rollback re-reads and re-commits this many times when other runs keep moving the stage.
ROLLBACK_ATTEMPTS = 5
# Exit codes of `advance` (the CI job's contract): advanced, gate failed (rolled back if configured), error.
ADVANCED, GATE_FAILED, ERROR = 0, 1, 2


class RolloutError(UsageError):
    """The rollout cannot proceed for a reason that is not a gate verdict (exit 2)."""


@dataclass(slots=True)
class Options:
    model: str
    repo: Path
    environment: str | None = None  # default: the spec's rollout environment
    prometheus: str | None = None
    specs: list[Path] | None = None  # default: the project's specs/
    push: bool | None = None  # None: push when the branch tracks a remote branch
    remote: str = "origin"
    lock_timeout: float = 60.0
    # How to ask Prometheus (url, expr, at=None) -> samples, and its rules API (url) -> rule groups; default
    # the HTTP client. Collaborators are passed in (a stand-in Prometheus in tests), never patched in.
    query: Callable[..., list[Sample]] | None = None
    rules: Callable[[str], list[dict[str, Any]]] | None = None


@dataclass(slots=True)
class Position:
    """Where a model's rollout stands in one environment, as the deployment repository says."""

    plan: Plan
    spec_file: Path
    environment: str
    state: ModelState
    raw: bytes | None  # the state file's bytes as read (the compare-and-swap base)
    current: EnvState  # effective: a new model version restarts at the first stage
    restarted: bool  # the state is for another version (or absent)
    stages: list[StagePlan]
    tree: Path
    layout: RolloutOutput  # what the serving target rendered for this rollout
    seed: str | None  # the audit seed file a target declared, relative to the tree

    @property
    def stage(self) -> StagePlan | None:
        return next((s for s in self.stages if s.name == self.current.stage), None)

    @property
    def next_stage(self) -> StagePlan | None:
        names = [s.name for s in self.stages]
        if self.current.stage not in names:
            return None
        index = names.index(self.current.stage)
        return self.stages[index + 1] if index + 1 < len(self.stages) else None

    def held_seconds(self, at: datetime) -> float:
        return max(0.0, (at - parse_timestamp(self.current.since)).total_seconds())


@dataclass(slots=True)
class Result:
    code: int
    lines: list[str] = field(default_factory=list)
    sha: str | None = None
    verdict: health.Verdict | None = None
    record: dict[str, Any] | None = None


def locate(opts: Options) -> Position:
    from compiler.deploy import history
    from compiler.deploy import repo as git_ops
    from compiler.pipeline import run, with_rollout_state

    result = run(opts.specs, render=False)
    found = [s for s in result.specs if s.plan is not None and s.plan.name == opts.model]
    if not found:
        broken = [s.file for s in result.specs if s.plan is None]
        raise RolloutError(f"no valid spec for model {opts.model!r}"
                           + (f" (specs with errors: {', '.join(broken)})" if broken else ""))
    spec = found[0]
    assert spec.plan is not None
    plan = spec.plan
    if plan.rollout is None:
        raise RolloutError(f"{opts.model} has no rollout (a realtime or streaming model with a `rollout:` section)")
    environment = opts.environment or plan.rollout.environment
    if environment != plan.rollout.environment:
        raise RolloutError(f"{opts.model} rolls out in {plan.rollout.environment!r}, not {environment!r}")
    layout, seed = _declared(result.context.targets, plan, environment)
    repo = git_ops.open_repo(opts.repo)
    tree = Path(repo.working_tree_dir)
    forged = history.problems(repo, [opts.model])
    if forged:
        raise RolloutError(f"the rollout records of {opts.model} disagree with git history; nothing was changed:\n"
                           + "\n".join(f"  {p.text()}" for p in forged)
                           + "\nrestore them from HEAD, or revert the commit that changed them by hand")
    state, raw = read_state(tree, opts.model)
    stages = [s for s in plan.rollout.stages if s.name in layout.stages]
    if not stages:
        raise RolloutError(f"no rollout stage of {opts.model} is rendered in {environment}")
    entry = state.environments.get(environment)
    first = stages[0].name
    valid = [s.name for s in stages] + ([ROLLBACK] if layout.rollback else [])
    if entry is not None and entry.version == plan.model.version and entry.stage in valid:
        current, restarted = entry, False
    else:
        since = _last_change(repo, layout.directory) or timestamp(now())
        current = EnvState(plan.model.version, first, since, entry.history if entry else [])
        restarted = True
    plan = with_rollout_state(plan, {plan.name: {environment: ActiveStage(current.version, current.stage)}})
    return Position(plan, Path(spec.file), environment, state, raw, current, restarted, stages, tree, layout, seed)


def _declared(targets: list[tuple[Target, Any]], plan: Plan, environment: str) -> tuple[RolloutOutput, str | None]:
    """The rollout output and audit seed the enabled targets declare (compiler.render.plugins.Locations)."""
    rollouts: list[tuple[str, RolloutOutput]] = []
    seeds: list[str] = []
    for target, settings in targets:
        found = target.locations(plan, settings, environment)
        if found.rollout is not None:
            rollouts.append((target.name, found.rollout))
        if found.audit_seed is not None:
            seeds.append(found.audit_seed)
    if not rollouts:
        raise RolloutError(f"no enabled target renders the rollout stages of {plan.name} in {environment}")
    if len(rollouts) > 1:
        raise RolloutError(f"targets {', '.join(n for n, _ in rollouts)} all render the rollout of {plan.name}; "
                           "disable all but one in mlspec.yaml")
    return rollouts[0][1], (seeds[0] if seeds else None)


def _last_change(repo: Any, path: str) -> str | None:
    """When the deployment repository last changed `path`: the start of a stage the state never saw."""
    try:
        text = str(repo.git.log("-1", "--format=%cI", "--", path)).strip()
    except Exception:  # no commits yet, or git refuses: the stage starts now
        return None
    return timestamp(parse_timestamp(text)) if text else None


def _url(opts: Options) -> str:
    if not opts.prometheus:
        raise RolloutError("the gate needs Prometheus: pass --prometheus URL or set MLSPEC_PROMETHEUS_URL")
    return opts.prometheus


def _ask(opts: Options) -> Callable[..., list[Sample]]:
    return opts.query or query


def _query(opts: Options) -> health.Query:
    url, ask = _url(opts), _ask(opts)
    return lambda expr: ask(url, expr)


def _source(opts: Options) -> health.Source:
    url, ask = _url(opts), _ask(opts)
    loaded = opts.rules or rules
    return health.Source(lambda expr: ask(url, expr), lambda expr, at: ask(url, expr, at=at), lambda: loaded(url))


def status(opts: Options) -> dict[str, Any]:
    pos = locate(opts)
    at = now()
    stage, following = pos.stage, pos.next_stage
    out: dict[str, Any] = {
        "model": pos.plan.name, "environment": pos.environment, "version": pos.current.version,
        "stage": pos.current.stage, "since": pos.current.since, "restarted": pos.restarted,
        "next": following.name if following else None,
        "held_seconds": round(pos.held_seconds(at), 3),
        "hold_seconds": (stage.duration_seconds or 0) if stage else 0,
        "stages": [s.name for s in pos.stages],
    }
    if opts.prometheus and stage is not None and following is not None:
        verdict = health.evaluate(pos.plan, pos.environment, stage, pos.held_seconds(at), _source(opts))
        out["gate"] = verdict.to_data()
    return out


def advance(opts: Options, *, wait: bool = False, timeout: float | None = None, interval: float = 30.0,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Result:
    """Move to the next stage when the gate passes; with `wait`, re-check until it does, fails or times out.

    A firing rollbackOn monitor commits the rollback at once (exit 1). `timeout` defaults to the stage's
    hold plus 30 minutes.
    """
    pos = locate(opts)
    if pos.current.stage == ROLLBACK:
        return Result(GATE_FAILED, [f"{opts.model} {pos.current.version} was rolled back in {pos.environment}; "
                                    "a new model version restarts the rollout"])
    stage, following = pos.stage, pos.next_stage
    if stage is None or following is None:
        return Result(ADVANCED, [f"{opts.model} {pos.current.version} is at {pos.current.stage} in "
                                 f"{pos.environment}: the rollout is complete"])
    ask = _source(opts)
    if timeout is None:
        timeout = (stage.duration_seconds or 0) + 1800.0
    deadline = clock() + max(timeout, 0.0)
    lines: list[str] = []
    while True:
        try:
            verdict = health.evaluate(pos.plan, pos.environment, stage, pos.held_seconds(now()), ask)
        except PrometheusError as exc:
            if not wait:
                raise
            lines.append(f"gate: {exc}; retrying")
            verdict = None
        if verdict is not None:
            if verdict.rollback and pos.current.stage != ROLLBACK and _can_roll_back(pos):
                fired = verdict.check("rollback")
                reason = f"rollbackOn monitor firing at {stage.name}: {fired.detail if fired else '?'}"
                made = _transition(pos, opts, ROLLBACK, "rollback", reason, verdict.to_data())
                made.code = GATE_FAILED
                made.lines[:0] = [*lines, f"gate: {verdict.summary()}"]
                return made
            if verdict.passed:
                made = _transition(pos, opts, following.name, "promote",
                                   f"gate passed at {stage.name}", verdict.to_data())
                made.lines[:0] = [*lines, f"gate: {verdict.summary()}"]
                return made
        left = deadline - clock()
        if not wait or left <= 0:
            if verdict is None:
                return Result(ERROR, [*lines, "gate: Prometheus did not answer before the timeout"])
            why = "timed out; " if wait else ""
            return Result(GATE_FAILED, [*lines, f"gate: {why}{verdict.summary()}"], verdict=verdict)
        pause = interval
        hold = verdict.check("hold") if verdict is not None else None
        if verdict is not None and hold is not None and verdict.failed == [hold]:
            pause = min(interval, max(health.hold_left(stage, pos.held_seconds(now())), 0.05))
        sleep(max(0.0, min(pause, left)))


def _can_roll_back(pos: Position) -> bool:
    return pos.layout.rollback


def rollback(opts: Options, reason: str, attempts: int = ROLLBACK_ATTEMPTS) -> Result:
    """Commit the rollback form (the previous version takes all traffic) in one step, recording why.

    A rollback must not lose to a concurrent advance: when another run moves the stage between our read
    and our commit (StateChanged), read the state again, re-validate and commit again.
    """
    from compiler.deploy.commit import StateChanged

    notes: list[str] = []
    for attempt in range(1, max(attempts, 1) + 1):
        pos = locate(opts)
        if not _can_roll_back(pos):
            raise RolloutError(f"{opts.model} has no model.previous, so there is no rollback form to select")
        if pos.current.stage == ROLLBACK:
            return Result(ADVANCED, [*notes, f"{opts.model} {pos.current.version} is already rolled back in "
                                              f"{pos.environment}"])
        evidence: dict[str, Any] = {"manual": True}
        if opts.prometheus:
            try:
                evidence["firing"] = health.firing_evidence(pos.plan, pos.environment, _query(opts)).to_data()
            except PrometheusError as exc:  # evidence only: a rollback must never wait for monitoring
                evidence["firing"] = {"error": str(exc)}
        try:
            made = _transition(pos, opts, ROLLBACK, "rollback", reason, evidence)
        except StateChanged:
            if attempt >= attempts:
                raise
            notes.append(f"another run moved {opts.model} past {pos.current.stage} first; read the state again "
                         f"and retried (attempt {attempt + 1} of {attempts})")
            continue
        made.lines[:0] = notes
        return made
    raise AssertionError("unreachable: the loop returns or raises")


def _transition(pos: Position, opts: Options, to: str, event: str, reason: str, evidence: dict[str, Any]) -> Result:
    from compiler.deploy import repo as git_ops
    from compiler.deploy.commit import commit

    plan, env = pos.plan, pos.environment
    repo = git_ops.open_repo(opts.repo)
    at = timestamp(now())
    who = audit.actor(git_ops.identity(repo))
    entry = {"at": at, "event": event, "from": pos.current.stage, "to": to, "version": plan.model.version,
             "actor": who, "reason": reason}
    new_env = EnvState(plan.model.version, to, at, [*pos.current.history, entry])
    state = ModelState(plan.name, {**pos.state.environments, env: new_env})
    log_rel = audit.audit_path(plan.name)
    log_path = pos.tree / log_rel
    log_raw = log_path.read_bytes() if log_path.is_file() else None
    body = {
        "event": event, "at": at, "actor": who,
        "what": {"model": plan.name, "model_version": plan.model.version, "model_uri": plan.model.uri,
                 "previous_version": plan.model.previous_version, "image_tag": plan.image_tag},
        "from": {"code_commit": plan.model.code_commit, "data_hash": plan.data.hash,
                 "compiler_version": __version__, "spec_digest": plan.provenance.spec_digest,
                 "plan_digest": plan.digest},
        "where": {"environment": env, "stage": to, "previous_stage": pos.current.stage},
        "reason": reason,
        "evidence": evidence,
    }
    record, log_bytes = audit.append(log_raw, log_rel, body, audit.seed_digest(pos.tree, pos.seed))
    rel = state_path(plan.name)
    verb = "roll back" if event == "rollback" else "advance"
    subject = f"rollout: {verb} {plan.name} {plan.model.version} in {env}: {pos.current.stage} -> {to}"
    message = f"{subject}\n\n{reason}\n\nActor: {who}"
    trailers = [f"Rollout-Model: {plan.name}", f"Rollout-Environment: {env}", f"Rollout-Event: {event}",
                f"Rollout-From: {pos.current.stage}", f"Rollout-Stage: {to}",
                f"Audit-Record: {audit.record_digest(record)}", f"Audit-Seq: {record['seq']}"]
    from compiler.live.sync import request_sync, warm_up  # the engine applies it now, not at its next poll

    warm_up(plan.settings("gitops"))
    outcome = commit(opts.repo, [pos.spec_file], push=_push(repo, opts), remote=opts.remote,
                     message=message, lock_timeout=opts.lock_timeout,
                     rollout_state={plan.name: {env: ActiveStage(plan.model.version, to)}},
                     extra_files={rel: state.to_bytes(), log_rel: log_bytes},
                     expect={rel: pos.raw, log_rel: log_raw}, trailers=trailers)
    if outcome.status == "invalid":
        errors = "; ".join(d.to_text() for d in outcome.result.diagnostics if d.is_error)
        raise RolloutError(f"cannot render {plan.name}: {errors}")
    if outcome.status == "refused":
        raise RolloutError(f"hand-edited managed files in {opts.repo}:\n{outcome.drift.to_text()}"
                           "move the change into the spec, or `mlspec commit --force`, then run again")
    lines = [f"{'rolled back' if event == 'rollback' else 'advanced'} {plan.name} {plan.model.version} in {env}: "
             f"{pos.current.stage} -> {to}" + (f" (commit {outcome.sha[:12]})" if outcome.sha else "")]
    if outcome.pushed:
        lines.append(f"pushed {outcome.pushed} to {opts.remote}")
        lines.extend(request_sync(pos.tree, plan.settings("gitops"), plan.name, env, outcome.sha))
    return Result(ADVANCED, lines, outcome.sha, record=record)


def _push(repo: Any, opts: Options) -> bool:
    if opts.push is not None:
        return opts.push
    try:  # a clone tracks its remote branch: a rollout commit that stays local deploys nothing
        return repo.active_branch.tracking_branch() is not None
    except (TypeError, ValueError):  # detached HEAD or unborn branch
        return False
