"""The prometheus target: every monitor becomes recording and alerting rules that promtool proves.

Per model and environment: `rules.yaml` (plain rule file for `promtool check rules`), `rules.test.yaml`
(generated `promtool test rules` cases) and `prometheusrule.yaml` (the same groups in a
monitoring.coreos.com/v1 PrometheusRule). Project-wide: an Alertmanager routing fragment per team and
the assembled `alertmanager.yml`. See docs/prometheus.md and docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from compiler.diagnostics import Diagnostic, Severity
from compiler.language.units import format_duration
from compiler.monitoring import serving_metrics
from compiler.planning.plan import EnvironmentPlan, MonitorPlan, Plan, monitor_in
from compiler.render import provenance
from compiler.render.plugins import OutputFile, Target
from targets.prometheus import alertmanager, burnrate, contract
from targets.prometheus.context import RuleContext, stack_of
from targets.prometheus.promql import PromQLError
from targets.prometheus.rules import build, unexported, unwatched
from targets.prometheus.ruleset import RuleSet
from targets.prometheus.settings import PrometheusSettings

RULE_FILE = "rules.yaml"
TEST_FILE = "rules.test.yaml"
WRAPPER_FILE = "prometheusrule.yaml"


def _seconds(value: float) -> str:
    """A spec duration for `value` seconds: `250ms`, `2500ms`, `5s`."""
    ms = round(value * 1000)
    return format_duration(ms) if ms % 1000 == 0 else f"{ms}ms"


def _warn(code: str, path: tuple[str | int, ...], message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, severity=Severity.WARNING, path=path, hint=hint)


class PrometheusTarget(Target):
    name = "prometheus"
    description = "Prometheus recording/alerting rules, PrometheusRule wrappers, promtool tests, Alertmanager routes"
    codes = {
        "PRM001": "a critical (paging) monitor has no runbook URL",
        "PRM002": "a live-traffic monitor on a batch or edge model renders no rules",
        "PRM003": "an SLO burn-rate tier was dropped: its window is not shorter than the period, or its "
                  "threshold would need more than 100% errors",
        "PRM004": "a monitor can never fire with its threshold",
        "PRM020": "a monitor reads a series the model's serving runtime does not export",
        "PRM021": "a latency SLO threshold is not a bucket bound of the runtime's latency histogram",
        "PRM022": "a latency threshold falls between bucket bounds: the alert compares an interpolated estimate",
        "PRM023": "a latency threshold at or above the histogram's highest finite bucket can never fire",
        "PRM024": "a monitor's environments or overrides name an environment the model is not served in",
        "PRM025": "a monitor override's threshold is not in the monitor kind's form",
        "PRM026": "a rollout gate names a monitor that does not watch the rollout's environment",
        "PRM027": "a token_cost monitor's maxPerDay needs token counters the model's serving runtime does not export",
        "PRM900": "internal: a generated PromQL expression does not parse",
    }
    settings_model = PrometheusSettings

    def check(self, plan: Plan, settings: Any) -> Iterable[Diagnostic]:
        assert isinstance(settings, PrometheusSettings)
        out: list[Diagnostic] = []
        for i, m in enumerate(plan.monitors):
            path: tuple[str | int, ...] = ("monitors", i)
            if m.severity == "critical" and not m.runbook:
                out.append(Diagnostic("PRM001", f"critical monitor {m.name!r} pages someone but has no runbook",
                                      path=path, hint="set runbook: https://... or defaults.runbookBase"))
            if m.kind == "slo" and m.objective is not None and m.period_seconds:
                lost = burnrate.dropped(m.objective, m.period_seconds)
                if not burnrate.tiers(m.objective, m.period_seconds):
                    out.append(Diagnostic("PRM004", f"SLO {m.name!r}: no burn-rate tier can fire for objective "
                                          f"{m.objective:g} over {m.period}", path=path,
                                          hint="raise the objective or lengthen the period"))
                elif lost:
                    out.append(_warn("PRM003", path, f"SLO {m.name!r}: burn-rate tiers {', '.join(lost)} dropped "
                                     f"for objective {m.objective:g} over {m.period}"))
            never = self._never_fires(m)
            if never:
                out.append(_warn("PRM004", path, f"monitor {m.name!r} can never fire: {never}"))
        out.extend(self._environments(plan))
        out.extend(self._rollout_scope(plan))
        # The findings below depend on the monitors as applied per environment (overrides change
        # thresholds) and on the serving stack, not on the rules: those are built where they are
        # written, by render, which proves every expression parses (PRM900). Building the first
        # environment's rules here was most of a spec's check; so was applying every monitor to every
        # environment (compiler.planning.monitors.monitor_in), where only latency thresholds can differ.
        stack = stack_of(plan, settings)
        out.extend(self._budgets(plan, stack))
        if plan.serving.pattern in contract.LIVE_PATTERNS:
            found = list(self._unexported(plan, stack))
        else:  # a batch or edge model: its live-traffic monitors get no rules (and so no PRM020)
            first = RuleContext(plan, plan.serving.environments[0], settings)
            found = [_warn("PRM002", ("monitors", index), why, "drift, quality, fairness and cost monitors still apply")
                     for index, why in unwatched(first)]
        found += self._buckets(plan, stack)
        seen: set[tuple[str, tuple[str | int, ...]]] = set()
        for d in sorted(found, key=lambda d: d.path):
            if (d.code, d.path) not in seen:  # each finding once per monitor, whichever environment
                seen.add((d.code, d.path))
                out.append(d)
        return out

    @staticmethod
    def _rollout_scope(plan: Plan) -> Iterator[Diagnostic]:
        """A gate monitor scoped out of the rollout's environment renders no alert there, so the gate
        would read "quiet" forever: silence is not health."""
        rollout = plan.rollout
        if rollout is None:
            return
        for field, names in (("advanceWhenQuiet", rollout.advance_when_quiet), ("rollbackOn", rollout.rollback_on)):
            for name in names:
                m = next((m for m in plan.monitors if m.name == name), None)
                if m is not None and m.environments is not None and rollout.environment not in m.environments:
                    yield Diagnostic("PRM026", f"rollout.{field} names monitor {name!r}, which does not watch "
                                     f"{rollout.environment!r}: the gate would never see it fire",
                                     path=("rollout", field), hint=f"add {rollout.environment} to the monitor's "
                                     f"environments, or drop it from rollout.{field}")

    @staticmethod
    def _environments(plan: Plan) -> Iterable[Diagnostic]:
        known = [e.name for e in plan.serving.environments]
        for i, m in enumerate(plan.monitors):
            for name in m.environments or ():
                if name not in known:
                    yield Diagnostic("PRM024", f"monitor {m.name!r} names environment {name!r}, which the model is "
                                     f"not served in", path=("monitors", i, "environments"),
                                     hint=f"one of: {', '.join(known)}")
            for name, override in m.overrides:
                if name not in known:
                    yield Diagnostic("PRM024", f"monitor {m.name!r} overrides environment {name!r}, which the model "
                                     f"is not served in", path=("monitors", i, "overrides", name),
                                     hint=f"one of: {', '.join(known)}")
                if override.threshold_invalid:
                    form = {"latency": "a duration such as 300ms", "error_rate": "a percent such as 2%",
                            "hallucination_rate": "a percent such as 2%"}.get(m.kind, "a number")
                    yield Diagnostic("PRM025", f"monitor {m.name!r}: the {name} override's threshold is not "
                                     f"{form}", path=("monitors", i, "overrides", name, "threshold"),
                                     hint=f"write it like the monitor's own threshold: {form}")

    @staticmethod
    def _unexported(plan: Plan, stack: serving_metrics.Stack) -> Iterator[Diagnostic]:
        """PRM020 for each monitor that watches some environment and reads a series `stack` lacks. Which
        series a monitor reads is the same in every environment: applying it there (monitor_in) keeps its
        name, kind and SLI, so only a monitor with a finding is applied, to learn whether it watches any."""
        envs = plan.serving.environments
        for i, m in enumerate(plan.monitors):
            missing = unexported(stack, m)
            if missing is not None and any(monitor_in(m, env) is not None for env in envs):
                yield Diagnostic("PRM020", missing[0], path=("monitors", i), hint=missing[1])

    @staticmethod
    def _buckets(plan: Plan, stack: serving_metrics.Stack) -> Iterator[Diagnostic]:
        """Latency thresholds against the bucket bounds the runtime really has (compiler.monitoring.serving_metrics),
        in every environment, as each monitor applies there (an override may change its threshold)."""
        if stack.latency is None or stack.latency.buckets is None or plan.serving.pattern not in contract.LIVE_PATTERNS:
            return
        bounds = stack.latency.buckets
        # monitor_in never changes a monitor's kind or SLI: only these can have a threshold to judge.
        timed = [(i, m) for i, m in enumerate(plan.monitors)
                 if m.kind == "latency" or (m.kind == "slo" and m.sli == "latency")]
        if not timed:
            return
        for env in plan.serving.environments:
            yield from PrometheusTarget._thresholds(
                stack, bounds, [(i, a) for i, m in timed if (a := monitor_in(m, env)) is not None])

    @staticmethod
    def _thresholds(stack: serving_metrics.Stack, bounds: tuple[float, ...],
                    monitors: list[tuple[int, MonitorPlan]]) -> Iterator[Diagnostic]:
        for i, m in monitors:
            if m.kind == "slo" and m.sli == "latency" and m.latency_seconds is not None:
                field, thr = "latency", m.latency_seconds
            elif m.kind == "latency" and m.threshold is not None:
                field, thr = "threshold", m.threshold
            else:
                continue
            if stack.is_bucket(thr):
                if m.kind == "latency" and thr >= bounds[-1]:
                    yield Diagnostic("PRM023", f"latency monitor {m.name!r} can never fire: {stack.what} has no "
                                     f"finite bucket above {_seconds(thr)}, and a quantile in the +Inf bucket "
                                     f"reads as the highest bound", path=("monitors", i, field),
                                     hint=f"use a threshold below {_seconds(bounds[-1])}")
                continue
            below, above = stack.bucket_near(thr)
            near = " or ".join(_seconds(b) for b in (below, above) if b is not None)
            if m.kind == "slo":
                yield Diagnostic("PRM021", f"SLO {m.name!r}: {_seconds(thr)} is not a bucket bound of {stack.what}'s "
                                 f"latency histogram, so no request is ever counted as fast enough and the SLO "
                                 f"reads nothing", path=("monitors", i, field), hint=f"use {near}")
            elif above is None:
                yield Diagnostic("PRM023", f"latency monitor {m.name!r} can never fire: {_seconds(thr)} is above "
                                 f"the highest finite bucket of {stack.what} ({_seconds(bounds[-1])})",
                                 path=("monitors", i, field), hint=f"use a threshold below {_seconds(bounds[-1])}")
            else:
                yield _warn("PRM022", ("monitors", i, field),
                            f"latency monitor {m.name!r}: {_seconds(thr)} lies between the bucket bounds of "
                            f"{stack.what}, so the alert compares a linear interpolation", f"use {near}")

    @staticmethod
    def _budgets(plan: Plan, stack: serving_metrics.Stack) -> Iterable[Diagnostic]:
        """`maxPerDay` is read from the runtime's own token counters (monitors/llm.py daily_budget): a
        runtime that counts no tokens would leave the budget promised and unwatched."""
        if stack.tokens is not None:
            return
        for i, m in enumerate(plan.monitors):
            if m.kind == "token_cost" and m.max_cost_per_day is not None:
                yield Diagnostic("PRM027", f"token_cost monitor {m.name!r}: maxPerDay is a daily budget on the "
                                 f"runtime's token counters, and {stack.what} exports none, so nothing would "
                                 f"watch it", path=("monitors", i, "maxPerDay"),
                                 hint="serve the model with vLLM (framework: huggingface; it exports "
                                      "vllm:prompt_tokens_total and vllm:generation_tokens_total), or remove "
                                      "maxPerDay and keep the per-request threshold")

    @staticmethod
    def _never_fires(m: Any) -> str | None:
        if m.kind in ("error_rate", "hallucination_rate") and m.threshold is not None and m.threshold >= 1:
            return "a ratio cannot exceed 100%"
        if m.kind == "grounding" and m.threshold is not None and m.threshold <= 0:
            return "a grounding score cannot fall below 0"
        if m.kind == "token_cost" and not (m.price_input_per_1k or m.price_output_per_1k):
            return "tokens are free at the declared prices"
        return None

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile | Diagnostic]:
        from targets.prometheus import openslo, unittests  # render only: lint starts faster

        assert isinstance(settings, PrometheusSettings)
        out: list[OutputFile | Diagnostic] = []
        for env in plan.serving.environments:
            try:
                rules = build(plan, env, settings)
            except PromQLError as exc:  # at the spec's first line, like every render-time finding
                return [Diagnostic("PRM900", str(exc), hint="this is a bug in the prometheus target")]
            base = f"models/{plan.name}/prometheus/{env.name}"
            data = rules.data()
            out.append(OutputFile(f"{base}/{RULE_FILE}", "yaml", [data]))
            out.append(OutputFile(f"{base}/{TEST_FILE}", "yaml", [unittests.test_file(rules, RULE_FILE)]))
            out.append(OutputFile(f"{base}/{WRAPPER_FILE}", "yaml", [self.wrapper(plan, env, data, settings)]))
            out.extend(openslo.files(rules, base))  # the SLO monitors as OpenSLO, same queries (openslo.py)
        return out

    @staticmethod
    def wrapper(plan: Plan, env: EnvironmentPlan, data: dict[str, Any], settings: PrometheusSettings) -> dict[str, Any]:
        meta = provenance.metadata(plan, f"{plan.name}-{env.name}", settings.ruleNamespace or env.namespace)
        labels = dict(meta["labels"])  # type: ignore[call-overload]
        labels[f"{provenance.PREFIX}/environment"] = env.name
        labels.update(settings.ruleSelectorLabels)  # last: the operator must select the object
        meta["labels"] = labels
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta,
                "spec": data}

    def project_part(self, plan: Plan, settings: Any, rendered: Mapping[str, bytes]) -> Any:
        return alertmanager.share(plan)

    def render_project(self, plans: Sequence[Plan], settings: Any,
                       parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile]:
        assert isinstance(settings, PrometheusSettings)
        if not plans:
            return []
        shares = alertmanager.shares_of(plans, parts)
        sources = tuple(sorted(s.spec_path for s in shares))
        out = [OutputFile(f"prometheus/alertmanager/teams/{team}.yaml", "yaml",
                          [alertmanager.team_fragment(team, shares, settings)], sources=sources)
               for team in alertmanager.teams(shares)]
        out.append(OutputFile("prometheus/alertmanager/alertmanager.yml", "yaml",
                              [alertmanager.config(shares, settings)], sources=sources))
        return out


def rule_sets(plan: Plan, settings: PrometheusSettings) -> list[RuleSet]:
    """Every environment's rules, for tests and tools that want the structure, not the files."""
    return [build(plan, env, settings) for env in plan.serving.environments]


__all__ = ["PrometheusTarget", "contract", "rule_sets"]
