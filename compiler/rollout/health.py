"""The advance gate: checks against a live Prometheus, each with its query and answer as evidence.

- `rollback`: no alert of a `rollbackOn` monitor is firing (a firing one rolls the model back);
- `quiet`: no alert of an `advanceWhenQuiet` monitor is firing;
- `traffic`: the model served at least `minRequests` requests over the gate window. No series at all
  means no traffic, and no traffic never passes: silence is not health;
- `hold`: the stage has been live for its duration (from the rollout state's `since`);
- `rules`: Prometheus has loaded an alerting rule for every watched monitor, for this model version,
  healthy, evaluated recently, and none of them is pending. "No firing alert" proves nothing when the
  rules are not loaded, broken, stale, or still inside their `for:`;
- `history`: for every watched monitor, the request series existed over the monitor's window `for:`
  seconds ago, i.e. the alert could have fired by now. After Prometheus lost its storage (or was just
  started) alerts restart from nothing, and a gate that believed the silence would fail open.

Alerts are found by the labels the prometheus target puts on every alert it renders (`model`,
`environment`, `monitor`), so one query covers a monitor's variants (burn-rate page and ticket, ...).
Requests are counted with the serving stack's own request counter, the same selector the rules use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compiler.language.units import format_duration
from compiler.live.prometheus import Sample
from compiler.monitoring import serving_metrics
from compiler.monitoring.promql import selector
from compiler.planning.plan import Plan, StagePlan

DEFAULT_WINDOW_SECONDS = 300

# A group whose last evaluation is older than this many intervals (plus the slack, for clock skew
# between this host and Prometheus) is not being evaluated: its silence means nothing.
STALE_INTERVALS = 3
STALE_SLACK_SECONDS = 15.0

Query = Callable[[str], list[Sample]]


@dataclass(frozen=True, slots=True)
class Source:
    """What the gate asks Prometheus: instant queries now and at a past unix time, and the loaded rules."""

    query: Query
    query_at: Callable[[str, float], list[Sample]]
    rules: Callable[[], list[dict[str, Any]]]
    clock: Callable[[], float] = time.time


@dataclass(slots=True)
class Check:
    name: str  # rollback | quiet | traffic | rules | history | hold
    passed: bool
    detail: str
    query: str | None = None
    result: list[dict[str, Any]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "passed": self.passed, "detail": self.detail}
        if self.query is not None:
            out["query"] = self.query
            out["result"] = self.result
        return out


@dataclass(slots=True)
class Verdict:
    checks: list[Check]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def rollback(self) -> bool:
        found = self.check("rollback")
        return found is not None and not found.passed

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_data(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [c.to_data() for c in self.checks]}

    def summary(self) -> str:
        return "; ".join(f"{c.name}: {'ok' if c.passed else 'FAIL'} ({c.detail})" for c in self.checks)


def window_seconds(plan: Plan, stage: StagePlan) -> int:
    """The traffic window: the stage's hold, else the longest quiet monitor's window, else 5 minutes."""
    if stage.duration_seconds:
        return stage.duration_seconds
    assert plan.rollout is not None
    windows = [m.window_seconds for m in plan.monitors if m.name in plan.rollout.advance_when_quiet]
    return max(windows, default=0) or DEFAULT_WINDOW_SECONDS


def alerts_query(plan: Plan, environment: str, monitors: Sequence[str]) -> str:
    return selector("ALERTS", {"alertstate": "firing", "model": plan.name, "environment": environment},
                    {"monitor": sorted(monitors)})


def traffic_query(plan: Plan, environment: str, seconds: int, stage: StagePlan | None = None) -> str:
    """Requests served over `seconds`, from the serving stack's request counter (compiler.monitoring.serving_metrics);
    in the shadow stage, the shadow InferenceService's own series."""
    namespace = plan.environment(environment).namespace
    window = format_duration(seconds * 1000)
    return serving_metrics.traffic_query(plan, namespace, window, seconds,
                                        shadow=stage is not None and stage.kind == "shadow")


def _alerts(name: str, query: Query, plan: Plan, environment: str, monitors: Sequence[str]) -> Check:
    if not monitors:
        return Check(name, True, "no monitors configured")
    expr = alerts_query(plan, environment, monitors)
    found = query(expr)
    firing = sorted({s.labels.get("alertname", "?") + f"[{s.labels.get('monitor', '?')}]" for s in found})
    detail = f"firing: {', '.join(firing)}" if firing else f"none of {', '.join(sorted(monitors))} firing"
    return Check(name, not found, detail, expr, [s.to_data() for s in found])


def _traffic(query: Query, plan: Plan, environment: str, stage: StagePlan) -> Check:
    assert plan.rollout is not None
    seconds = window_seconds(plan, stage)
    expr = traffic_query(plan, environment, seconds, stage)
    found = query(expr)
    needed = plan.rollout.min_requests
    if not found:
        return Check("traffic", False, f"no request series over {format_duration(seconds * 1000)}: no traffic",
                     expr, [])
    served = sum(s.value for s in found)
    ok = served >= needed
    return Check("traffic", ok, f"{served:.0f} requests over {format_duration(seconds * 1000)}, "
                                f"{'>=' if ok else '<'} {needed} needed", expr, [s.to_data() for s in found])


def hold_left(stage: StagePlan, held_seconds: float) -> float:
    return max(0.0, (stage.duration_seconds or 0) - held_seconds)


def watched(plan: Plan) -> list[str]:
    assert plan.rollout is not None
    return sorted({*plan.rollout.rollback_on, *plan.rollout.advance_when_quiet})


def _parse_time(text: object) -> float | None:
    """Unix time of an RFC 3339 timestamp as Prometheus writes it (nanoseconds allowed); None if unset."""
    if not isinstance(text, str):
        return None
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if found is None or found.group(1).startswith("0001-"):  # Go's zero time: never evaluated
        return None
    zone = "+00:00" if found.group(3) == "Z" else found.group(3)
    fraction = (found.group(2) or ".0")[:7]
    try:
        return datetime.fromisoformat(found.group(1) + fraction + zone).timestamp()
    except ValueError:
        return None


@dataclass(slots=True)
class LoadedRule:
    name: str
    monitor: str
    labels: dict[str, str]
    health: str
    state: str
    error: str
    duration: float  # the rule's `for:` in seconds
    group: str
    interval: float
    last_evaluation: float | None

    @property
    def key(self) -> str:
        return f"{self.name}[{self.monitor}]"


def loaded_rules(groups: list[dict[str, Any]], plan: Plan, environment: str) -> list[LoadedRule]:
    """The alerting rules of this model and environment among Prometheus' loaded groups."""
    found: list[LoadedRule] = []
    for group in groups:
        interval = group.get("interval")
        interval = float(interval) if isinstance(interval, int | float) else 60.0
        for rule in group.get("rules") or []:
            if not isinstance(rule, dict) or rule.get("type") != "alerting":
                continue
            labels = rule.get("labels") if isinstance(rule.get("labels"), dict) else {}
            labels = {str(k): str(v) for k, v in (labels or {}).items()}
            if labels.get("model") != plan.name or labels.get("environment") != environment:
                continue
            duration = rule.get("duration")
            found.append(LoadedRule(
                str(rule.get("name", "?")), labels.get("monitor", ""), labels, str(rule.get("health", "")),
                str(rule.get("state", "")), str(rule.get("lastError", "") or ""),
                float(duration) if isinstance(duration, int | float) else 0.0, str(group.get("name", "?")),
                interval, _parse_time(group.get("lastEvaluation"))))
    return sorted(found, key=lambda r: (r.monitor, r.name, r.group))


def _age(rule: LoadedRule, at: float) -> str:
    return "never evaluated" if rule.last_evaluation is None else f"last evaluated {at - rule.last_evaluation:.0f}s ago"


def _rules(plan: Plan, environment: str, rules: list[LoadedRule], at: float) -> Check:
    monitors = watched(plan)
    if not monitors:
        return Check("rules", True, "no monitors watched")
    problems: list[str] = []
    mine = [r for r in rules if r.monitor in monitors]
    missing = [m for m in monitors if not any(r.monitor == m for r in mine)]
    if missing:
        problems.append(f"no alerting rule loaded for {', '.join(missing)} (is the model's rules file in "
                        "Prometheus' rule_files, and was Prometheus reloaded?)")
    version = plan.model.version
    other = sorted({r.labels["model_version"] for r in mine
                    if "model_version" in r.labels and r.labels["model_version"] != version})
    if other:
        problems.append(f"loaded rules are for model version {', '.join(other)}, not {version} "
                        "(Prometheus has not loaded the rendered rules of this version)")
    unhealthy = [f"{r.key} health {r.health or 'unknown'}" + (f": {r.error}" if r.error else "")
                 for r in mine if r.health != "ok"]
    if unhealthy:
        problems.append("unhealthy: " + "; ".join(unhealthy))
    stale = sorted({f"{r.group} ({_age(r, at)}, every {r.interval:g}s)" for r in mine
                    if r.last_evaluation is None
                    or at - r.last_evaluation > STALE_INTERVALS * r.interval + STALE_SLACK_SECONDS})
    if stale:
        problems.append("not evaluated recently: " + ", ".join(stale))
    pending = [r.key for r in mine if r.state == "pending"]
    if pending:
        problems.append("pending (violating, inside for:): " + ", ".join(pending))
    if problems:
        return Check("rules", False, "; ".join(problems))
    return Check("rules", True, f"{len(mine)} alerting rule(s) of {', '.join(monitors)} loaded for version "
                                f"{version}, healthy, evaluated recently, none pending")


def _history(source: Source, plan: Plan, environment: str, rules: list[LoadedRule], at: float) -> Check:
    """Each watched monitor's window `for:` seconds ago held request series: its alert could have fired."""
    spans: dict[tuple[int, float], list[str]] = {}
    windows = {m.name: m.window_seconds for m in plan.monitors}
    for monitor in watched(plan):
        durations = [r.duration for r in rules if r.monitor == monitor]
        if monitor in windows and durations:
            spans.setdefault((windows[monitor] or DEFAULT_WINDOW_SECONDS, max(durations)), []).append(monitor)
    if not spans:
        return Check("history", not watched(plan), "no loaded rule to check" if watched(plan) else
                     "no monitors watched")
    results: list[dict[str, Any]] = []
    queries: list[str] = []
    short: list[str] = []
    for (window, duration), monitors in sorted(spans.items()):
        expr = traffic_query(plan, environment, window)
        found = source.query_at(expr, at - duration)
        queries.append(f"{expr} @ now-{duration:g}s")
        results.extend({**s.to_data(), "at": f"now-{duration:g}s"} for s in found)
        if not found:
            short.append(f"{', '.join(monitors)} ({format_duration(window * 1000)} window, for: {duration:g}s)")
    if short:
        return Check("history", False, "Prometheus has no request series from far enough back for "
                     f"{'; '.join(short)}: it lost its storage or started too recently, so these alerts cannot "
                     "have fired yet", " ; ".join(queries), results)
    return Check("history", True, "request series cover every watched monitor's window and for:",
                 " ; ".join(queries), results)


def evaluate(plan: Plan, environment: str, stage: StagePlan, held_seconds: float, source: Source) -> Verdict:
    """Every check, in the order a reader wants them; Prometheus errors propagate (PrometheusError)."""
    assert plan.rollout is not None
    answers: dict[str, list[Sample]] = {}

    def once(expr: str) -> list[Sample]:  # rollbackOn and advanceWhenQuiet often name the same monitors
        if expr not in answers:
            answers[expr] = source.query(expr)
        return answers[expr]

    rollback = _alerts("rollback", once, plan, environment, plan.rollout.rollback_on)
    if not rollback.passed:
        # A firing rollbackOn alert proves its rule is loaded and evaluating: roll back on it even when
        # the rules API cannot be asked. Failing closed must never block the way back.
        return Verdict([rollback])
    at = source.clock()
    loaded = loaded_rules(source.rules(), plan, environment)
    left = hold_left(stage, held_seconds)
    hold = Check("hold", left <= 0,
                 f"held {held_seconds:.1f}s of {stage.duration_seconds or 0}s"
                 + (f", {left:.1f}s left" if left > 0 else ""))
    return Verdict([
        rollback,
        _alerts("quiet", once, plan, environment, plan.rollout.advance_when_quiet),
        _traffic(once, plan, environment, stage),
        _rules(plan, environment, loaded, at),
        _history(source, plan, environment, loaded, at),
        hold,
    ])


def firing_evidence(plan: Plan, environment: str, query: Query) -> Check:
    """For a manual rollback: which rollout monitors are firing right now (evidence, never a block)."""
    assert plan.rollout is not None
    return _alerts("firing", query, plan, environment, watched(plan))
