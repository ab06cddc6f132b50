"""Monitors to Prometheus rules, each alert with the promtool scenarios that prove it.

One `RuleSet` per model and environment. Every alert is built together with the input series that
make it fire and the ones that keep it silent, from the same selector code, so the generated unit
tests check the rules against the metric contract rather than against a copy of the query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compiler.language.units import duration_ms, format_duration
from compiler.monitoring import serving_metrics
from compiler.monitoring.serving_metrics import Stack
from compiler.planning.plan import EnvironmentPlan, MonitorPlan, Plan, monitor_in
from targets.prometheus import burnrate, contract
from targets.prometheus.alertmanager import retrains
from targets.prometheus.promql import check, number, quote_meta, regex_alternation, selector, template_literal
from targets.prometheus.settings import PrometheusSettings

TEST_INTERVAL = "1m"


@dataclass(frozen=True, slots=True)
class Series:
    series: str
    values: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str  # fires | healthy | low-traffic | ...
    series: tuple[Series, ...]
    eval_seconds: int
    firing: tuple[Mapping[str, str], ...]  # labels each firing alert adds to the rule's; () = silent


@dataclass(slots=True)
class Alert:
    name: str
    monitor: str
    expr: str
    for_: str
    labels: dict[str, str]  # raw values (the rule gets them template-escaped)
    annotations: dict[str, str]  # templates
    scenarios: list[Scenario]
    keep_firing_for: str | None = None

    def rule(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.name, "expr": self.expr, "for": self.for_}
        if self.keep_firing_for:
            out["keep_firing_for"] = self.keep_firing_for
        out["labels"] = {k: template_literal(v) for k, v in self.labels.items()}
        out["annotations"] = dict(self.annotations)
        return out


@dataclass(slots=True)
class Group:
    name: str
    monitor: str
    records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass(slots=True)
class RuleSet:
    plan: Plan
    env: EnvironmentPlan
    groups: list[Group]
    skipped: list[tuple[int, str]]  # (monitor index, why) for monitors that got no rules
    # (monitor index, why, hint) for live monitors whose series the model's runtime does not export
    unsupported: list[tuple[int, str, str]] = field(default_factory=list)
    monitors: list[tuple[int, MonitorPlan]] = field(default_factory=list)  # as applied to `env`

    def data(self) -> dict[str, Any]:
        """One rule group: rules in a group run in order, so every alert reads recordings made in the
        same evaluation. Across groups the order is unspecified (promtool even shuffles it), and an
        alert would read a recording one interval old, or none at all once that exceeds the lookback."""
        rules = [*self.records, *(a.rule() for a in self.alerts)]
        return {"groups": [{"name": f"mlspec.{self.plan.name}.{self.env.name}", "rules": rules}] if rules else []}

    @property
    def alerts(self) -> list[Alert]:
        return [a for g in self.groups for a in g.alerts]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for g in self.groups for r in g.records]


def seconds(duration: str) -> int:
    return (duration_ms(duration) or 0) // 1000


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def counter(per_second: float, eval_seconds: int) -> str:
    """promtool series notation for a counter growing at `per_second` until past `eval_seconds`."""
    steps = eval_seconds // 60 + 2
    return f"0+{number(per_second * 60)}x{steps}"


def gauge(value: float, eval_seconds: int) -> str:
    return f"{number(value)}+0x{eval_seconds // 60 + 2}"


_TEMPLATE = re.compile(r'\{\{ (?:"(\{\{)"|\$labels\.([A-Za-z_][A-Za-z0-9_]*)) \}\}')


def expand(template: str, labels: Mapping[str, str]) -> str:
    """What Prometheus prints for the only template constructs this target writes."""
    return _TEMPLATE.sub(lambda m: m.group(1) or labels.get(m.group(2), ""), template)


class Builder:
    """Rules for one model in one environment."""

    def __init__(self, plan: Plan, env: EnvironmentPlan, settings: PrometheusSettings) -> None:
        self.plan = plan
        self.env = env
        self.settings = settings
        self.stack: Stack = serving_metrics.stack_for(plan, settings.model_dump())
        self.identity = {"model": plan.name, "model_version": plan.model.version, "environment": env.name}
        self.live = plan.serving.pattern in contract.LIVE_PATTERNS
        # Staleness pages in production only, like critical monitors (compiler.planning.plan.monitor_in).
        self.paging = "critical" if env.rollout or env.name == "production" else "warning"
        self.groups: list[Group] = []
        self.skipped: list[tuple[int, str]] = []
        self.unsupported: list[tuple[int, str, str]] = []
        # The monitors as they apply here (environments, overrides, non-production severity).
        self.monitors = [(i, applied) for i, m in enumerate(plan.monitors)
                         if (applied := monitor_in(m, env)) is not None]
        self._recorded: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    # --- shared pieces --------------------------------------------------------------------------

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
        return replace(m, window=window, window_seconds=seconds(window), for_=self.scale(m.for_))

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

    def guard_rate(self, window: str) -> float:
        """Low-traffic guard: the configured floor, or rollout.minRequests within the window if higher."""
        floor = self.settings.minRequestRate
        rollout = self.plan.rollout
        if rollout is not None and rollout.environment == self.env.name:
            floor = max(floor, rollout.min_requests / max(seconds(window), 1))
        return floor

    def requests_expr(self, window: str) -> str:
        """Requests per second as an unlabelled expression; no traffic at all is 0, not empty."""
        return f"({self.stack.requests(self.plan.name, self.env.namespace, window)} or vector(0))"

    def requests(self, group: Group, window: str) -> str:
        return self.record(group, f"ml:requests:rate{window}", self.requests_expr(window))

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

    def eval_after(self, *durations: str, extra: int = 300) -> int:
        return sum(seconds(d) for d in durations) + extra

    # --- serving-stack test series ----------------------------------------------------------------

    def traffic_series(self, ok: float, failed: float, eval_s: int) -> list[Series]:
        """Series of `ok` successful and `failed` failed requests per second, in the stack's names."""
        s, name, ns = self.stack, self.plan.name, self.env.namespace
        match = s.matchers(name, ns)
        out: list[Series] = []
        assert s.requests_metric is not None
        if s.errors_extra:  # one family, failures picked by a status label (Knative)
            label = s.errors_extra[0][0]
            ok_value, failed_value = ("2xx", "5xx") if label == "response_code_class" else ("200", "500")
            out.append(Series(selector(s.requests_metric, {**match, label: ok_value}), counter(ok, eval_s)))
            if failed:
                out.append(Series(selector(s.requests_metric, {**match, label: failed_value}),
                                  counter(failed, eval_s)))
        elif s.requests_are_successes:
            assert s.errors_metric is not None
            out.append(Series(selector(s.requests_metric, match), counter(ok, eval_s)))
            if failed:
                out.append(Series(selector(s.errors_metric, match), counter(failed, eval_s)))
        else:
            out.append(Series(selector(s.requests_metric, match), counter(ok + failed, eval_s)))
            if s.errors_metric is not None and (failed or s.errors_from_contract):
                # The contract's counter is exported from start-up, at 0 until the first failure.
                out.append(Series(selector(s.errors_metric, match), counter(failed, eval_s)))
        return out

    def latency_series(self, buckets: Mapping[float, float], total: float, eval_s: int) -> list[Series]:
        """Histogram series: `buckets` maps a bound in seconds to the requests per second at or below it."""
        s = self.stack
        lat = s.latency
        assert lat is not None
        out = []
        pod = {"pod": f"{self.plan.name}-predictor-7d9f8"} if s.latency_by_pod else {}
        base = {**(s.matchers(self.plan.name, self.env.namespace) if not s.latency_by_pod
                   else {s.namespace_label: self.env.namespace}), **pod}
        for bound, rate in sorted(buckets.items()):
            le = s.le_values(bound)[0]
            out.append(Series(selector(lat.bucket_metric, {**base, "le": le}), counter(rate, eval_s)))
        out.append(Series(selector(lat.bucket_metric, {**base, "le": "+Inf"}), counter(total, eval_s)))
        if lat.count_metric != s.requests_metric or s.latency_by_pod:
            out.append(Series(selector(lat.count_metric, base), counter(total, eval_s)))
        return out

    def busy(self, window: str) -> float:
        """A request rate comfortably above the guard."""
        return float(max(1, math.ceil(self.guard_rate(window) * 4)))

    # --- monitor kinds ----------------------------------------------------------------------------

    def build(self) -> RuleSet:
        kinds: dict[str, Callable[[Group, MonitorPlan], None]] = {
            "latency": self.latency, "error_rate": self.error_rate, "throughput": self.throughput,
            "slo": self.slo, "data_drift": self.data_drift, "prediction_drift": self.prediction_drift,
            "concept_drift": self.concept_drift, "fairness": self.fairness, "cost": self.cost,
            "hallucination_rate": self.hallucination, "grounding": self.grounding, "token_cost": self.token_cost,
        }
        for index, monitor in self.monitors:
            if monitor.kind in contract.LIVE_KINDS and not self.live:
                self.skipped.append((index, f"a {self.plan.serving.pattern} model serves no live traffic, so "
                                            f"the {monitor.kind} monitor has no metrics to watch"))
                continue
            missing = unexported(self.stack, monitor)
            if missing is not None:
                self.unsupported.append((index, *missing))
                continue
            monitor = self.scaled(monitor)
            group = Group(f"mlspec.{self.plan.name}.{self.env.name}.{monitor.name}", monitor.name)
            self.groups.append(group)
            kinds[monitor.kind](group, monitor)
        self.staleness()
        return RuleSet(self.plan, self.env, self.groups, self.skipped, self.unsupported, self.monitors)

    def latency(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.quantile is not None
        w, thr, q = m.window, m.threshold, m.quantile
        s = self.stack
        lat = s.latency
        assert lat is not None
        inner = (f"sum by (le) (rate({s.latency_selector(lat.bucket_metric, self.plan.name, self.env.namespace)}"
                 f"[{w}]))")
        scale = f" * {number(lat.unit_seconds)}" if lat.unit_seconds != 1 else ""
        latency = self.record(group, f"ml:request_latency_seconds:histogram_quantile_rate{w}",
                              f"histogram_quantile({number(q)}, {inner}){scale}", quantile=number(q))
        req = self.requests(group, w)
        guard = self.guard_rate(w)
        expr = f"({latency} > {number(thr)}) and on () ({req} >= {number(guard)})"
        eval_s = self.eval_after(w, m.for_)
        rate = self.busy(w)
        slow = {thr / 2: 0.0, thr * 2: rate}
        fast = {thr / 2: rate, thr * 2: rate}
        low = guard / 4
        self.alert(group, m, "", expr,
                   f"p{number(q * 100)} latency of {self.who()} is above {number(thr)}s",
                   f"The {number(q)} quantile of request latency over {w} exceeds {number(thr)} seconds "
                   f"while serving at least {number(guard)} requests per second.",
                   [Scenario("fires", tuple(self.traffic_series(rate, 0, eval_s)
                                            + self.latency_series(slow, rate, eval_s)), eval_s, ({},)),
                    Scenario("healthy", tuple(self.traffic_series(rate, 0, eval_s)
                                              + self.latency_series(fast, rate, eval_s)), eval_s, ()),
                    Scenario("low-traffic", tuple(self.traffic_series(low, 0, eval_s)
                                                  + self.latency_series({thr / 2: 0.0, thr * 2: low}, low, eval_s)),
                             eval_s, ())],
                   carried={"quantile": number(q)})

    def error_ratio(self, group: Group, window: str) -> str:
        s = self.stack
        errors = s.errors(self.plan.name, self.env.namespace, window)
        # Recorded series carry identity labels; the raw, unlabelled expressions divide cleanly.
        return self.record(group, f"ml:request_errors:ratio_rate{window}",
                           f"{errors} / {self.requests_expr(window)}")

    def error_rate(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        w, thr = m.window, m.threshold
        ratio = self.error_ratio(group, w)
        req = self.requests(group, w)
        guard = self.guard_rate(w)
        eval_s = self.eval_after(w, m.for_)
        rate = self.busy(w)
        self.alert(group, m, "", f"({ratio} > {number(thr)}) and on () ({req} >= {number(guard)})",
                   f"Error ratio of {self.who()} is above {number(thr * 100)}%",
                   f"More than {number(thr * 100)}% of requests failed over {w} while serving at least "
                   f"{number(guard)} requests per second.",
                   [Scenario("fires", tuple(self.traffic_series(0, rate, eval_s)), eval_s, ({},)),
                    Scenario("healthy", tuple(self.traffic_series(rate, 0, eval_s)), eval_s, ()),
                    Scenario("low-traffic", tuple(self.traffic_series(0, guard / 4, eval_s)), eval_s, ())])
        self.errors_missing(group, m, req, guard, eval_s, rate)

    def errors_missing(self, group: Group, m: MonitorPlan, req: str, guard: float, eval_s: int, rate: float) -> None:
        """The contract's failure counter is absent while requests flow: the error ratio is blind."""
        s = self.stack
        sel = s.errors_selector(self.plan.name, self.env.namespace)
        if not s.errors_from_contract or sel is None:
            return
        served = tuple(x for x in self.traffic_series(rate, 0, eval_s)
                       if not x.series.startswith(s.errors_metric or ""))
        made = self.alert(
            group, m, "ErrorCounterMissing", f"absent({sel}) and on () ({req} >= {number(guard)})",
            f"{self.who()} serves traffic but exports no failure counter",
            f"{s.errors_metric} is missing while requests are served, so the {m.name} monitor cannot see errors: "
            f"the predictor must export it (initialised at 0), see docs/metrics.md.",
            [Scenario("fires", served, eval_s, (s.matchers(self.plan.name, self.env.namespace),)),
             Scenario("healthy", tuple(self.traffic_series(rate, 0, eval_s)), eval_s, ())],
            severity="warning", retrain=False, keep_firing=False)
        made.labels["monitor"] = m.name

    def throughput(self, group: Group, m: MonitorPlan) -> None:
        w = m.window
        req = self.requests(group, w)
        eval_s = self.eval_after(w, m.for_)
        lo, hi = m.min_rps or 0.0, m.max_rps
        healthy = (lo + hi) / 2 if hi is not None else max(lo * 2, 1.0)
        if lo > 0:
            self.alert(group, m, "Low", f"{req} < {number(lo)}",
                       f"{self.who()} serves fewer than {number(lo)} requests per second",
                       f"Request rate over {w} fell below {number(lo)} per second (no traffic counts as zero).",
                       [Scenario("fires", (), eval_s, ({},)),
                        Scenario("healthy", tuple(self.traffic_series(healthy, 0, eval_s)), eval_s, ())])
        if hi is not None:
            self.alert(group, m, "High", f"{req} > {number(hi)}",
                       f"{self.who()} serves more than {number(hi)} requests per second",
                       f"Request rate over {w} rose above {number(hi)} per second.",
                       [Scenario("fires", tuple(self.traffic_series(hi * 2, 0, eval_s)), eval_s, ({},)),
                        Scenario("healthy", tuple(self.traffic_series(healthy, 0, eval_s)), eval_s, ())])

    def slo(self, group: Group, m: MonitorPlan) -> None:
        assert m.objective is not None
        assert m.period_seconds is not None
        tiers = burnrate.tiers(m.objective, m.period_seconds)
        s, name, ns = self.stack, self.plan.name, self.env.namespace
        lat = s.latency
        ratios: dict[str, str] = {}
        long = {t.long: self.scale(t.long) for t in tiers}
        short = {t.short: self.scale(t.short) for t in tiers}
        for w in sorted({*long.values(), *short.values()}, key=seconds):  # shortest first
            if m.sli == "latency":
                assert m.latency_seconds is not None
                assert lat is not None
                good = (f"sum(rate({s.latency_selector(lat.bucket_metric, name, ns, s.le_values(m.latency_seconds))}"
                        f"[{w}]))")
                total = f"sum(rate({s.latency_selector(lat.count_metric, name, ns)}[{w}]))"
                expr = f"1 - ({good} / {total})"
            else:
                expr = f"{s.errors(name, ns, w)} / {self.requests_expr(w)}"
            ratios[w] = self.record(group, f"ml:slo_errors:ratio_rate{w}", expr, slo=m.name)
        budget = 1 - float(burnrate.objective_fraction(m.objective))
        page_severity = m.severity
        ticket_severity = "warning" if m.severity == "critical" else m.severity
        for page, suffix, severity in ((True, "BurnRatePage", page_severity),
                                       (False, "BurnRateTicket", ticket_severity)):
            chosen = [t for t in tiers if t.page == page]
            if not chosen:
                continue
            conditions = " or ".join(
                f"({ratios[long[t.long]]} > {number(t.threshold)} and {ratios[short[t.short]]} > "
                f"{number(t.threshold)})"
                for t in chosen)
            # The short window confirms the burn is still happening; it must carry enough traffic too.
            guard_window = short[chosen[0].short]
            req = self.requests(group, guard_window)
            guard = self.guard_rate(guard_window)
            expr = f"({conditions}) and on () ({req} >= {number(guard)})"
            # rate() over a window older than the data underestimates: let the guard's window fill.
            eval_s = self.eval_after(guard_window, m.for_, extra=900)
            rate = self.busy(guard_window)
            tiers_text = ", ".join(f"{number(t.factor)}x over {t.long} and {t.short}" for t in chosen)
            if m.sli == "latency":
                assert m.latency_seconds is not None
                slow_at = m.latency_seconds
                bad = self.traffic_series(rate, 0, eval_s) + self.latency_series({slow_at: 0.0}, rate, eval_s)
                good_series = self.traffic_series(rate, 0, eval_s) + self.latency_series({slow_at: rate}, rate, eval_s)
                low = self.traffic_series(guard / 4, 0, eval_s) + self.latency_series({slow_at: 0.0}, guard / 4, eval_s)
                what = f"requests slower than {number(slow_at)}s"
            else:
                bad = self.traffic_series(0, rate, eval_s)
                good_series = self.traffic_series(rate, 0, eval_s)
                low = self.traffic_series(0, guard / 4, eval_s)
                what = "failed requests"
            self.alert(group, m, suffix, expr,
                       f"{self.who()} burns its {number(m.objective * 100)}% {m.sli} error budget too fast",
                       f"The {m.period} error budget ({number(budget * 100)}% {what}) burns at {tiers_text}.",
                       [Scenario("fires", tuple(bad), eval_s, ({},)),
                        Scenario("healthy", tuple(good_series), eval_s, ()),
                        Scenario("low-traffic", tuple(low), eval_s, ())],
                       severity=severity, retrain=None if page else False, keep_firing=False,
                       carried={"slo": m.name})

    def data_drift(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.method is not None
        features = list(m.features)
        scores = selector(contract.FEATURE_DRIFT, {**self.identity, "method": m.method}, {"feature": features})
        thr = m.threshold
        eval_s = self.eval_after(m.for_)

        def series(value: float) -> tuple[Series, ...]:
            return tuple(Series(self.id_selector(contract.FEATURE_DRIFT, feature=f, method=m.method or ""),
                                gauge(value, eval_s)) for f in features)

        drifted = series(thr * 2)
        calm = series(thr / 2)
        per_feature = tuple({"feature": f} for f in features)
        self.alert(group, m, "Feature", f"max by (feature) ({scores}) > {number(thr)}",
                   f'Feature {{{{ $labels.feature }}}} of {self.who()} drifted ({m.method} above {number(thr)})',
                   f"The {m.method} drift score of the feature exceeds {number(thr)}.",
                   [Scenario("fires", drifted, eval_s, per_feature), Scenario("healthy", calm, eval_s, ())],
                   severity="info" if m.share is not None else None,
                   retrain=False if m.share is not None else None)
        if m.share is not None:
            share = self.record(group, "ml:feature_drift:share",
                                f"(count({scores} > {number(thr)}) or vector(0)) / {len(features)}",
                                monitor=m.name)
            needed = math.ceil(m.share * len(features))
            some = tuple(Series(x.series, gauge(thr * 2 if i < needed else thr / 2, eval_s))
                         for i, x in enumerate(drifted))
            few = tuple(Series(x.series, gauge(thr * 2 if i < needed - 1 else thr / 2, eval_s))
                        for i, x in enumerate(drifted))
            self.alert(group, m, "Share", f"{share} >= {number(m.share)}",
                       f"{number(m.share * 100)}% or more of the features of {self.who()} drifted",
                       f"At least {needed} of {len(features)} watched features have a {m.method} drift score "
                       f"above {number(thr)}.",
                       [Scenario("fires", some, eval_s, ({},)), Scenario("healthy", few, eval_s, ())])

    def prediction_drift(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.method is not None
        sel = self.id_selector(contract.PREDICTION_DRIFT, method=m.method)
        eval_s = self.eval_after(m.for_)
        self.alert(group, m, "", f"max({sel}) > {number(m.threshold)}",
                   f"Predictions of {self.who()} drifted ({m.method} above {number(m.threshold)})",
                   f"The {m.method} drift score of the prediction distribution exceeds {number(m.threshold)}.",
                   [Scenario("fires", (Series(sel, gauge(m.threshold * 2, eval_s)),), eval_s, ({},)),
                    Scenario("healthy", (Series(sel, gauge(m.threshold / 2, eval_s)),), eval_s, ())])

    def concept_drift(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.metric is not None
        sel = self.id_selector(contract.QUALITY, metric=m.metric)
        eval_s = self.eval_after(m.for_)
        self.alert(group, m, "", f"min({sel}) < {number(m.threshold)}",
                   f"{template_literal(m.metric)} of {self.who()} fell below {number(m.threshold)}",
                   f"{template_literal(m.metric)}, computed from labels that arrive "
                   f"{format_duration((m.label_delay_seconds or 0) * 1000)} late, is below its floor "
                   f"{number(m.threshold)}.",
                   [Scenario("fires", (Series(sel, gauge(m.threshold - 0.1, eval_s)),), eval_s, ({},)),
                    Scenario("healthy", (Series(sel, gauge(m.threshold + 0.1, eval_s)),), eval_s, ())])

    def fairness(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.metric is not None
        assert m.attribute is not None
        sel = self.id_selector(contract.FAIRNESS, metric=m.metric, attribute=m.attribute)
        eval_s = self.eval_after(m.for_)
        thr = m.threshold
        if m.metric == "disparate_impact":
            expr, bad, good, word = f"min({sel}) < {number(thr)}", thr - 0.1, thr + 0.1, "below"
        else:
            expr, bad, good, word = f"max(abs({sel})) > {number(thr)}", abs(thr) + 0.1, abs(thr) / 2, "above"
        self.alert(group, m, "", expr,
                   f"{m.metric} of {self.who()} by {template_literal(m.attribute)} is {word} {number(thr)}",
                   f"The fairness metric {m.metric} across groups of {template_literal(m.attribute)} "
                   f"is {word} {number(thr)}.",
                   [Scenario("fires", (Series(sel, gauge(bad, eval_s)),), eval_s, ({},)),
                    Scenario("healthy", (Series(sel, gauge(good, eval_s)),), eval_s, ())])

    def ratio_alert(self, group: Group, m: MonitorPlan, *, record: str, numerator: str, denominator_metric: str,
                    denominator_record: str, op: str, threshold: float, summary: str, description: str,
                    bad: list[Series], good: list[Series], low: list[Series], **labels: str) -> None:
        """Exporter counters as a ratio over the window, guarded by the denominator's own rate."""
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

    def _eval(self, m: MonitorPlan) -> int:
        return self.eval_after(m.window, m.for_)

    def cost(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.currency is not None
        thr, cur, e = m.threshold, m.currency, self._eval(m)
        cost_sel = self.id_selector(contract.COST, currency=cur)
        inf_sel = self.id_selector(contract.INFERENCES)
        rate = max(1.0, self.settings.minRequestRate * 4)
        low = self.settings.minRequestRate / 4

        def series(per_inference: float, inferences: float) -> list[Series]:
            return [Series(cost_sel, counter(per_inference * inferences, e)), Series(inf_sel, counter(inferences, e))]

        self.ratio_alert(group, m, record="ml:inference_cost:per_inference_rate",
                         numerator=f"sum(rate({cost_sel}[{m.window}]))", denominator_metric=contract.INFERENCES,
                         denominator_record="ml:inferences:rate", op=">", threshold=thr,
                         summary=f"Cost per inference of {self.who()} is above {number(thr)} {cur}",
                         description=f"Accrued cost divided by inferences over {m.window} exceeds "
                                     f"{number(thr)} {cur}.",
                         bad=series(thr * 2, rate), good=series(thr / 2, rate), low=series(thr * 2, low),
                         currency=cur)

    def hallucination(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        thr, e = m.threshold, self._eval(m)
        bad_sel = self.id_selector(contract.LLM_HALLUCINATIONS)
        all_sel = self.id_selector(contract.LLM_EVALUATED)
        rate = max(1.0, self.settings.minRequestRate * 4)
        low = self.settings.minRequestRate / 4
        self.ratio_alert(group, m, record="ml:llm_hallucinations:ratio_rate",
                         numerator=f"(sum(rate({bad_sel}[{m.window}])) or vector(0))",
                         denominator_metric=contract.LLM_EVALUATED, denominator_record="ml:llm_evaluated:rate",
                         op=">", threshold=thr,
                         summary=f"Hallucination rate of {self.who()} is above {number(thr * 100)}%",
                         description=f"More than {number(thr * 100)}% of the responses judged over {m.window} "
                                     f"were hallucinated.",
                         bad=[Series(bad_sel, counter(rate, e)), Series(all_sel, counter(rate, e))],
                         good=[Series(all_sel, counter(rate, e))],
                         low=[Series(bad_sel, counter(low, e)), Series(all_sel, counter(low, e))])

    def grounding(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        thr, e = m.threshold, self._eval(m)
        sum_sel = self.id_selector(contract.LLM_GROUNDING + "_sum")
        count_sel = self.id_selector(contract.LLM_GROUNDING + "_count")
        rate = max(1.0, self.settings.minRequestRate * 4)
        low = self.settings.minRequestRate / 4

        def series(mean: float, scored: float) -> list[Series]:
            return [Series(sum_sel, counter(mean * scored, e)), Series(count_sel, counter(scored, e))]

        self.ratio_alert(group, m, record="ml:llm_grounding_score:mean_rate",
                         numerator=f"sum(rate({sum_sel}[{m.window}]))",
                         denominator_metric=contract.LLM_GROUNDING + "_count",
                         denominator_record="ml:llm_grounding_scored:rate", op="<", threshold=thr,
                         summary=f"Mean grounding score of {self.who()} is below {number(thr)}",
                         description=f"The mean grounding score of responses over {m.window} fell below "
                                     f"{number(thr)}.",
                         bad=series(thr / 2, rate), good=series((1 + thr) / 2, rate), low=series(thr / 2, low))

    def token_cost(self, group: Group, m: MonitorPlan) -> None:
        assert m.threshold is not None
        assert m.price_input_per_1k is not None
        assert m.price_output_per_1k is not None
        thr, e, w = m.threshold, self._eval(m), m.window
        pin, pout, cur = m.price_input_per_1k, m.price_output_per_1k, m.currency or "USD"
        tin = self.id_selector(contract.LLM_TOKENS, type="input")
        tout = self.id_selector(contract.LLM_TOKENS, type="output")
        req = self.id_selector(contract.LLM_REQUESTS)
        numerator = (f"((sum(rate({tin}[{w}])) or vector(0)) * {number(pin / 1000)} + "
                     f"(sum(rate({tout}[{w}])) or vector(0)) * {number(pout / 1000)})")
        rate = max(1.0, self.settings.minRequestRate * 4)
        low = self.settings.minRequestRate / 4
        per_token = (pin + pout) / 1000 or 1.0
        tokens_bad = 2 * thr / per_token  # tokens of each type per request

        def series(tokens: float, requests: float) -> list[Series]:
            return [Series(tin, counter(tokens * requests, e)), Series(tout, counter(tokens * requests, e)),
                    Series(req, counter(requests, e))]

        self.ratio_alert(group, m, record="ml:llm_token_cost:per_request_rate", numerator=numerator,
                         denominator_metric=contract.LLM_REQUESTS, denominator_record="ml:llm_requests:rate",
                         op=">", threshold=thr,
                         summary=f"Token cost per request of {self.who()} is above {number(thr)} {cur}",
                         description=f"Input and output tokens priced at {number(pin)}/{number(pout)} {cur} per "
                                     f"1k cost more than {number(thr)} {cur} per request over {w}.",
                         bad=series(tokens_bad, rate), good=series(tokens_bad / 8, rate),
                         low=series(tokens_bad, low), currency=cur)

    # --- staleness of batch-exported metrics --------------------------------------------------------

    def staleness(self) -> None:
        families: dict[str, list[MonitorPlan]] = {}
        for _, monitor in self.monitors:
            if monitor.kind in contract.STALENESS:
                families.setdefault(contract.STALENESS[monitor.kind][0], []).append(self.scaled(monitor))
        for family, monitors in families.items():
            metric = contract.STALENESS[monitors[0].kind][1]
            window = max(m.window_seconds for m in monitors)
            stale_s = int(window * self.settings.stalenessFactor)
            stale = format_duration(stale_s * 1000)
            first = monitors[0]
            runbook = next((m.runbook for m in monitors if m.runbook), None) or self.settings.stalenessRunbookUrl
            group = Group(f"mlspec.{self.plan.name}.{self.env.name}.{family}-exporter", first.name)
            self.groups.append(group)
            sel = self.id_selector(metric)
            names = ", ".join(m.name for m in monitors)
            labels = {"exporter": family}
            for_stale = self.scale("5m")
            # A last run long before the test's time 0 is stale at once, so the test stays short.
            eval_stale = seconds(for_stale) + 300
            alert = self.alert(
                group, first, "", f"time() - max({sel}) > {stale_s}",
                f"The {family} job of {self.who()} has not reported for {stale}",
                f"{metric} is older than {stale}: the monitors {template_literal(names)} are blind.",
                [Scenario("fires", (Series(sel, gauge(-2 * stale_s, eval_stale)),), eval_stale, ({},)),
                 Scenario("healthy", (Series(sel, counter(1, eval_stale)),), eval_stale, ())],
                severity=self.paging, retrain=False, for_=for_stale, runbook=runbook, keep_firing=False)
            alert.name = f"{camel(family)}ExporterStale"
            alert.labels.update(labels)
            eval_missing = stale_s + 300
            alert = self.alert(
                group, first, "", f"absent({sel})",
                f"The {family} job of {self.who()} never reported",
                f"No {metric} series for {stale}: the monitors {template_literal(names)} are blind.",
                [Scenario("fires", (), eval_missing, ({},)),
                 Scenario("healthy", (Series(sel, counter(1, eval_missing)),), eval_missing, ())],
                severity=self.paging, retrain=False, for_=stale, runbook=runbook, keep_firing=False)
            alert.name = f"{camel(family)}ExporterMissing"
            alert.labels.update(labels)
            # absent() carries the selector's equality matchers as labels.
            alert.scenarios[0] = Scenario("fires", (), eval_missing, (dict(self.identity),))


_ERRORS_HINT = ("declare the exporter contract's failure counter (targets.prometheus.inferenceErrors: exporter, "
                "docs/metrics.md) and export ml_inference_errors_total from the predictor, or serve on a stack "
                "that counts failures (knative, mlserver, triton)")


def unexported(stack: Stack, m: MonitorPlan) -> tuple[str, str] | None:
    """(why, hint) when `m` reads a series `stack` does not export, else None."""
    needs_errors = m.kind == "error_rate" or (m.kind == "slo" and m.sli == "availability")
    needs_latency = m.kind == "latency" or (m.kind == "slo" and m.sli == "latency")
    if m.kind in contract.LIVE_KINDS and stack.requests_metric is None:
        return f"{stack.what} exports no request counter for the {m.kind} monitor", "choose another servingStack"
    if needs_errors and stack.errors_metric is None:
        what = "error rate" if m.kind == "error_rate" else "availability SLO"
        return (f"the {what} monitor {m.name!r} needs a failure counter, and {stack.what} exports none "
                f"(an absent counter would read as 0% errors)", _ERRORS_HINT)
    if needs_latency and stack.latency is None:
        return (f"the latency monitor {m.name!r} needs a latency histogram, and {stack.what} exports none",
                "use a serving stack with a latency histogram, or watch latency in the runtime's own terms")
    return None


def build(plan: Plan, env: EnvironmentPlan, settings: PrometheusSettings) -> RuleSet:
    return Builder(plan, env, settings).build()


__all__ = [
    "TEST_INTERVAL",
    "Alert",
    "Group",
    "RuleSet",
    "Scenario",
    "Series",
    "build",
    "expand",
    "quote_meta",
    "regex_alternation",
]
