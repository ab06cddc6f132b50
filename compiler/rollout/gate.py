"""The advance gate: checks against a live Prometheus, each with its query and answer as evidence.

- `rollback`: no alert of a `rollbackOn` monitor is firing (a firing one rolls the model back);
- `quiet`: no alert of an `advanceWhenQuiet` monitor is firing;
- `traffic`: the model served at least `minRequests` requests over the gate window. No series at all
  means no traffic, and no traffic never passes: silence is not health;
- `hold`: the stage has been live for its duration (from the rollout state's `since`).

Alerts are found by the labels the prometheus target puts on every alert it renders (`model`,
`environment`, `monitor`), so one query covers a monitor's variants (burn-rate page and ticket, ...).
Requests are counted with the serving stack's own request counter, the same selector the rules use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler import servingmetrics
from compiler.plan import Plan, StagePlan
from compiler.promql import selector
from compiler.rollout.prometheus import Sample
from compiler.units import format_duration

DEFAULT_WINDOW_SECONDS = 300

Query = Callable[[str], list[Sample]]


@dataclass(slots=True)
class Check:
    name: str  # rollback | quiet | traffic | hold
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
    """Requests served over `seconds`, from the serving stack's request counter (compiler.servingmetrics);
    in the shadow stage, the shadow InferenceService's own series."""
    namespace = plan.environment(environment).namespace
    window = format_duration(seconds * 1000)
    return servingmetrics.traffic_query(plan, namespace, window, seconds,
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


def evaluate(plan: Plan, environment: str, stage: StagePlan, held_seconds: float, query: Query) -> Verdict:
    """Every check, in the order a reader wants them; Prometheus errors propagate (PrometheusError)."""
    assert plan.rollout is not None
    answers: dict[str, list[Sample]] = {}

    def once(expr: str) -> list[Sample]:  # rollbackOn and advanceWhenQuiet often name the same monitors
        if expr not in answers:
            answers[expr] = query(expr)
        return answers[expr]

    left = hold_left(stage, held_seconds)
    hold = Check("hold", left <= 0,
                 f"held {held_seconds:.1f}s of {stage.duration_seconds or 0}s"
                 + (f", {left:.1f}s left" if left > 0 else ""))
    return Verdict([
        _alerts("rollback", once, plan, environment, plan.rollout.rollback_on),
        _alerts("quiet", once, plan, environment, plan.rollout.advance_when_quiet),
        _traffic(once, plan, environment, stage),
        hold,
    ])


def firing_evidence(plan: Plan, environment: str, query: Query) -> Check:
    """For a manual rollback: which rollout monitors are firing right now (evidence, never a block)."""
    assert plan.rollout is not None
    monitors = sorted({*plan.rollout.rollback_on, *plan.rollout.advance_when_quiet})
    return _alerts("firing", query, plan, environment, monitors)
