"""What every monitor family builds its rules with: one model in one environment.

The pieces all families share live here so each family module holds only its own queries and
scenarios: the identity labels, the environment's paging severity, the monitors as applied to the
environment (environments, overrides, non-production severity: compiler.planning.plan.monitor_in), the
test-only time scale of windows and `for:`, recording rules written once per file, the low-traffic
guard, and the alert itself (labels, annotations, `for:`, `keep_firing_for`, carried labels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from compiler.language.units import duration_ms, duration_seconds, format_duration
from compiler.monitoring import serving_metrics
from compiler.monitoring.serving_metrics import Stack
from compiler.per_object import per_object
from compiler.planning.plan import EnvironmentPlan, MonitorPlan, Plan, monitor_in
from targets.prometheus import contract
from targets.prometheus.alertmanager import retrains
from targets.prometheus.promql import check, number, selector, template_literal
from targets.prometheus.ruleset import Alert, Group, Scenario, Series, camel
from targets.prometheus.settings import PrometheusSettings


def applied_monitors(plan: Plan, env: EnvironmentPlan) -> list[tuple[int, MonitorPlan]]:
    """(index in the spec, the monitor as it applies in `env`), for the monitors that watch `env`."""
    return [(i, applied) for i, m in enumerate(plan.monitors) if (applied := monitor_in(m, env)) is not None]


def stack_of(plan: Plan, settings: PrometheusSettings) -> Stack:
    """The serving stack whose series carry `plan`'s live traffic (serving_metrics.stack_for), under these settings."""
    return serving_metrics.stack_for(plan, _dumped(settings))


@per_object
def _dumped(settings: PrometheusSettings) -> Mapping[str, Any]:
    """`settings` as the raw data stack_for reads, dumped once for the run's settings object rather than
    for every spec and environment (the dump was ~4% of a lint's checks). The settings are frozen."""
    return MappingProxyType(settings.model_dump())


class RuleContext:
    """Rules for one model in one environment: the shared state and helpers of the family builders."""

    def __init__(self, plan: Plan, env: EnvironmentPlan, settings: PrometheusSettings) -> None:
        self.plan = plan
        self.env = env
        self.settings = settings
        self.stack: Stack = stack_of(plan, settings)
        self.identity = {"model": plan.name, "model_version": plan.model.version, "environment": env.name}
        self.live = plan.serving.pattern in contract.LIVE_PATTERNS
        # Staleness pages in production only, like critical monitors (compiler.planning.plan.monitor_in).
        self.paging = "critical" if env.rollout or env.name == "production" else "warning"
        self.groups: list[Group] = []
        self.skipped: list[tuple[int, str]] = []
        self.unsupported: list[tuple[int, str, str]] = []
        # The monitors as they apply here (environments, overrides, non-production severity).
        self.monitors = applied_monitors(plan, env)
        self._recorded: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    # --- time: windows and `for:` ------------------------------------------------------------------

    def scale(self, duration: str) -> str:
        """`duration` times the test-only timeScale setting, never below one second."""
        if self.settings.timeScale == 1:
            return duration
        ms = (duration_ms(duration) or 0) * self.settings.timeScale
        return format_duration(max(1000, round(ms / 1000) * 1000))

    def scaled(self, m: MonitorPlan) -> MonitorPlan:
        if self.settings.timeScale == 1:
            return m
        window = self.scale(m.window)
        return replace(m, window=window, window_seconds=duration_seconds(window), for_=self.scale(m.for_))

    def eval_after(self, *durations: str, extra: int = 300) -> int:
        """The test time by which a steady scenario has filled `durations` and a margin."""
        return sum(duration_seconds(d) for d in durations) + extra

    def eval_window(self, m: MonitorPlan) -> int:
        return self.eval_after(m.window, m.for_)

    # --- series and recording rules ------------------------------------------------------------------

    def id_selector(self, metric: str, /, **extra: str) -> str:
        return selector(metric, {**self.identity, **extra})

    def record(self, group: Group, name: str, expr: str, **labels: str) -> str:
        """Add a recording rule once per file; return the selector of the series it records."""
        all_labels = {**self.identity, **labels}
        key = (name, tuple(sorted(all_labels.items())))
        if key not in self._recorded:
            self._recorded.add(key)
            group.records.append({"record": name, "expr": check(expr), "labels": all_labels})
        return selector(name, all_labels)

    # --- the low-traffic guard ------------------------------------------------------------------------

    def guard_rate(self, window: str) -> float:
        """Low-traffic guard: the configured floor, or rollout.minRequests within the window if higher."""
        floor = self.settings.minRequestRate
        rollout = self.plan.rollout
        if rollout is not None and rollout.environment == self.env.name:
            floor = max(floor, rollout.min_requests / max(duration_seconds(window), 1))
        return floor

    def requests_expr(self, window: str) -> str:
        """Requests per second as an unlabelled expression; no traffic at all is 0, not empty."""
        return f"({self.stack.requests(self.plan.name, self.env.namespace, window)} or vector(0))"

    def requests(self, group: Group, window: str) -> str:
        return self.record(group, f"ml:requests:rate{window}", self.requests_expr(window))

    def ratio_rates(self) -> tuple[float, float]:
        """Scenario rates for a ratio alert guarded by `minRequestRate` alone: (well above, well below)."""
        floor = self.settings.minRequestRate
        return max(1.0, floor * 4), floor / 4

    def busy(self, window: str) -> float:
        """A request rate comfortably above the guard."""
        return float(max(1, math.ceil(self.guard_rate(window) * 4)))

    # --- alerts: labels, annotations, severity, `for:` -----------------------------------------------

    def labels(self, monitor: MonitorPlan, severity: str | None = None, retrain: bool | None = None) -> dict[str, str]:
        out = {
            "severity": severity or monitor.severity,
            "team": monitor.team,
            **self.identity,
            "namespace": self.env.namespace,
            "monitor": monitor.name,
        }
        if retrains(self.plan, monitor.name) and retrain is not False:
            out["retrain"] = "true"
        if monitor.owner_email:
            out["owner"] = monitor.owner_email  # Alertmanager routes it to the owner (alertmanager.owner_routes)
        return out

    def annotations(self, monitor: MonitorPlan | None, summary: str, description: str,
                    runbook: str | None) -> dict[str, str]:
        out = {"summary": summary, "description": description}
        if monitor is not None and monitor.description:
            out["description"] = template_literal(monitor.description) + "\n" + description
        if runbook:
            out["runbook_url"] = template_literal(runbook)
        return out

    def who(self) -> str:
        return template_literal(f"{self.plan.name} {self.plan.model.version} in {self.env.name}")

    def alert(self, group: Group, monitor: MonitorPlan, suffix: str, expr: str, summary: str, description: str,
              scenarios: list[Scenario], *, severity: str | None = None, retrain: bool | None = None,
              for_: str | None = None, runbook: str | None = None, keep_firing: bool = True,
              carried: Mapping[str, str] | None = None) -> Alert:
        """`carried`: labels the expression's result keeps from a recorded series (quantile, slo, ...)."""
        if carried:
            scenarios = [Scenario(sc.name, sc.series, sc.eval_seconds, tuple({**carried, **f} for f in sc.firing))
                         for sc in scenarios]
        made = Alert(
            name=camel(monitor.name) + suffix, monitor=monitor.name, expr=check(expr), for_=for_ or monitor.for_,
            labels=self.labels(monitor, severity, retrain),
            annotations=self.annotations(monitor, summary, description, runbook or monitor.runbook),
            scenarios=scenarios,
            keep_firing_for=self.scale(self.settings.keepFiringFor)
            if keep_firing and self.settings.keepFiringFor else None,
        )
        group.alerts.append(made)
        return made

    def ratio_alert(self, group: Group, m: MonitorPlan, *, record: str, numerator: str, denominator_metric: str,
                    denominator_record: str, op: str, threshold: float, summary: str, description: str,
                    bad: list[Series], good: list[Series], low: list[Series], **labels: str) -> None:
        """Exporter counters as a ratio over the window, guarded by the denominator's own rate (the
        cost and LLM families)."""
        w = m.window
        denominator = f"sum(rate({self.id_selector(denominator_metric)}[{w}]))"
        ratio = self.record(group, f"{record}{w}", f"{numerator} / {denominator}", **labels)
        rate = self.record(group, f"{denominator_record}{w}", denominator)
        guard = self.settings.minRequestRate
        eval_s = self.eval_after(w, m.for_)
        self.alert(group, m, "", f"({ratio} {op} {number(threshold)}) and on () ({rate} >= {number(guard)})",
                   summary, description,
                   [Scenario("fires", tuple(bad), eval_s, ({},)), Scenario("healthy", tuple(good), eval_s, ()),
                    Scenario("low-traffic", tuple(low), eval_s, ())],
                   carried=labels)
