"""The monitors' plan: each monitor with its kind's default window and `for`, its severity (its own,
else the project's `defaults.severity`), routing and runbook, and kind-specific parameters normalized;
`monitor_in` tunes one for an environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.language.project import Project
from compiler.language.spec import (
    ConceptDrift,
    Cost,
    DataDrift,
    ErrorRate,
    Fairness,
    Grounding,
    Hallucination,
    Latency,
    PredictionDrift,
    Slo,
    Spec,
    Throughput,
    TokenCost,
)
from compiler.language.units import duration_ms, duration_seconds, format_duration, percent
from compiler.planning.quick_init import quick_init, replace
from compiler.planning.serving import EnvironmentPlan

# (window, for) defaults per monitor kind: long enough to be stable, short enough to matter.
MONITOR_DEFAULTS: dict[str, tuple[str, str]] = {
    "latency": ("5m", "10m"),
    "error_rate": ("5m", "10m"),
    "throughput": ("10m", "15m"),
    "data_drift": ("1h", "30m"),
    "prediction_drift": ("1h", "30m"),
    "concept_drift": ("1d", "1h"),
    "fairness": ("1d", "1h"),
    "cost": ("1h", "30m"),
    "slo": ("1h", "2m"),
    "hallucination_rate": ("1h", "30m"),
    "grounding": ("1h", "30m"),
    "token_cost": ("1h", "30m"),
}


# The kinds whose threshold is a percentage, and those that count failed requests (tuples: a union
# `A | B` written in the call would be built again on every call).
_PERCENT_THRESHOLD = (ErrorRate, Hallucination)
_FAILURES = (ErrorRate, Slo)


@quick_init
@dataclass(frozen=True, slots=True)
class MonitorPlan:
    name: str
    kind: str
    window: str  # Prometheus duration
    window_seconds: int
    for_: str
    severity: str
    team: str  # routing team
    owner_email: str | None
    runbook: str | None
    retrain: bool
    description: str | None
    # Kind-specific parameters, normalized. Unused ones are None.
    threshold: float | None = None  # ratio for rates, seconds for latency, score otherwise
    quantile: float | None = None
    features: tuple[str, ...] = ()
    method: str | None = None
    share: float | None = None
    metric: str | None = None
    attribute: str | None = None
    objective: float | None = None  # SLO objective as a ratio, e.g. 0.999
    period: str | None = None
    period_seconds: int | None = None
    sli: str | None = None
    latency_seconds: float | None = None  # SLO latency threshold
    min_rps: float | None = None
    max_rps: float | None = None
    label_delay_seconds: int | None = None
    currency: str | None = None
    price_input_per_1k: float | None = None
    price_output_per_1k: float | None = None
    failures: str | None = None  # runtime | exporter | None (the prometheus target's default)
    environments: tuple[str, ...] | None = None  # None: every environment
    overrides: tuple[tuple[str, MonitorOverridePlan], ...] = ()
    max_cost_per_day: float | None = None  # token_cost: budget over any 24 hours, in `currency`

    def override(self, environment: str) -> MonitorOverridePlan | None:
        if not self.overrides:  # most monitors: no generator made (monitor_in asks for every environment)
            return None
        return next((o for name, o in self.overrides if name == environment), None)


@quick_init
@dataclass(frozen=True, slots=True)
class MonitorOverridePlan:
    """One environment's tuning; `threshold` normalized like the monitor's (None: unset or invalid,
    `threshold_invalid` tells which; the prometheus target reports an invalid one)."""

    threshold: float | None = None
    threshold_invalid: bool = False
    severity: str | None = None
    window: str | None = None
    for_: str | None = None
    min_rps: float | None = None
    max_rps: float | None = None


def monitor_in(monitor: MonitorPlan, env: EnvironmentPlan) -> MonitorPlan | None:
    """`monitor` as it applies to `env`, or None when it does not watch `env`.

    Outside production (the rollout's environment, or one named production) a critical monitor alerts
    as warning: staging should not page anyone. A throughput floor is dropped where the environment
    may scale to zero (minReplicas 0), since it would fire for as long as nobody calls. An override for
    the environment wins over both.
    """
    if monitor.environments is not None and env.name not in monitor.environments:
        return None
    changes: dict[str, Any] = {}
    production = env.rollout or env.name == "production"
    if not production and monitor.severity == "critical":
        changes["severity"] = "warning"
    if monitor.kind == "throughput" and env.replicas_min == 0:
        changes["min_rps"] = None
    found = monitor.override(env.name)
    if found is not None:
        if found.threshold is not None:
            changes["threshold"] = found.threshold
        if found.severity is not None:
            changes["severity"] = found.severity
        if found.window is not None:
            changes["window"] = format_duration(duration_ms(found.window) or 0)
            changes["window_seconds"] = duration_seconds(found.window)
        if found.for_ is not None:
            changes["for_"] = found.for_
        if found.min_rps is not None:
            changes["min_rps"] = found.min_rps
        if found.max_rps is not None:
            changes["max_rps"] = found.max_rps
    return replace(monitor, **changes) if changes else monitor


def monitor_plan(monitor: Any, spec: Spec, project: Project) -> MonitorPlan:
    default_window, default_for = MONITOR_DEFAULTS[monitor.kind]
    window = monitor.window or default_window
    owner_email = monitor.owner if monitor.owner and "@" in monitor.owner else None
    team = monitor.owner if monitor.owner and owner_email is None else spec.metadata.team
    runbook = monitor.runbook
    if runbook is None and project.defaults.runbookBase:
        runbook = f"{project.defaults.runbookBase.rstrip('/')}/{spec.metadata.name}/{monitor.name}"
    extra: dict[str, Any] = {}
    if isinstance(monitor, DataDrift):
        extra = {"threshold": monitor.threshold, "method": monitor.method, "share": monitor.share,
                 "features": tuple(monitor.features or [f.name for f in spec.data.features])}
    elif isinstance(monitor, PredictionDrift):
        extra = {"threshold": monitor.threshold, "method": monitor.method}
    elif isinstance(monitor, ConceptDrift):
        extra = {"threshold": monitor.threshold, "metric": monitor.metric,
                 "label_delay_seconds": duration_seconds(monitor.labelDelay)}
    elif isinstance(monitor, Latency):
        extra = {"threshold": (duration_ms(monitor.threshold) or 0) / 1000, "quantile": monitor.quantile}
    elif isinstance(monitor, _PERCENT_THRESHOLD):
        extra = {"threshold": percent(monitor.threshold)}
    elif isinstance(monitor, Throughput):
        extra = {"min_rps": monitor.min, "max_rps": monitor.max}
    elif isinstance(monitor, Fairness):
        extra = {"threshold": monitor.threshold, "metric": monitor.metric, "attribute": monitor.attribute}
    elif isinstance(monitor, Cost):
        extra = {"threshold": monitor.threshold, "currency": monitor.currency}
    elif isinstance(monitor, Slo):
        extra = {"objective": monitor.objective / 100, "period": monitor.period,
                 "period_seconds": duration_seconds(monitor.period), "sli": monitor.sli,
                 "latency_seconds": (duration_ms(monitor.latency) or 0) / 1000 if monitor.latency else None}
    elif isinstance(monitor, Grounding):
        extra = {"threshold": monitor.threshold}
    elif isinstance(monitor, TokenCost):
        extra = {"threshold": monitor.threshold, "currency": monitor.currency,
                 "price_input_per_1k": monitor.pricePer1kTokens.input,
                 "price_output_per_1k": monitor.pricePer1kTokens.output,
                 "max_cost_per_day": monitor.maxPerDay}
    if isinstance(monitor, _FAILURES):
        extra["failures"] = monitor.failures
    window_ms = duration_ms(window) or 0
    return MonitorPlan(
        name=monitor.name, kind=monitor.kind, window=format_duration(window_ms),
        window_seconds=window_ms // 1000, for_=monitor.for_ or default_for,
        severity=project.monitor_severity(monitor.severity),
        team=team, owner_email=owner_email, runbook=runbook, retrain=monitor.retrain,
        description=monitor.description,
        environments=tuple(monitor.environments) if monitor.environments is not None else None,
        overrides=tuple((env, _override(monitor.kind, o)) for env, o in sorted(monitor.overrides.items()))
        if monitor.overrides else (),
        **extra,
    )


def _override(kind: str, override: Any) -> MonitorOverridePlan:
    threshold: float | None = None
    raw = override.threshold
    if raw is not None:
        if kind == "latency":
            ms = duration_ms(raw) if isinstance(raw, str) else None
            threshold = ms / 1000 if ms else None
        elif kind in ("error_rate", "hallucination_rate"):
            threshold = percent(raw)
        elif not isinstance(raw, str | bool):
            threshold = float(raw)
        # The monitor's own thresholds are positive except a quality floor or a fairness bound.
        if threshold is not None and threshold <= 0 and kind not in ("concept_drift", "fairness"):
            threshold = None
    return MonitorOverridePlan(
        threshold=threshold, threshold_invalid=raw is not None and threshold is None, severity=override.severity,
        window=override.window, for_=override.for_, min_rps=override.min, max_rps=override.max)
