"""The prometheus target: every monitor becomes recording and alerting rules that promtool proves.

Per model and environment: `rules.yaml` (plain rule file for `promtool check rules`), `rules.test.yaml`
(generated `promtool test rules` cases) and `prometheusrule.yaml` (the same groups in a
monitoring.coreos.com/v1 PrometheusRule). Project-wide: an Alertmanager routing fragment per team and
the assembled `alertmanager.yml`. See docs/prometheus.md and docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from compiler import provenance
from compiler.diagnostics import Diagnostic, Severity
from compiler.plan import EnvironmentPlan, Plan
from compiler.targets import OutputFile, Target
from targets.prometheus import alertmanager, burnrate, contract, openslo, unittests
from targets.prometheus.promql import PromQLError
from targets.prometheus.rules import RuleSet, build
from targets.prometheus.settings import PrometheusSettings

RULE_FILE = "rules.yaml"
TEST_FILE = "rules.test.yaml"
WRAPPER_FILE = "prometheusrule.yaml"


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
        # One environment is enough at lint time: environments differ only in label values, which are
        # escaped the same way, and render still parses every expression of every environment.
        try:
            rules = build(plan, plan.serving.environments[0], settings)
        except PromQLError as exc:
            out.append(Diagnostic("PRM900", str(exc), hint="this is a bug in the prometheus target"))
            return out
        for index, why in rules.skipped:
            out.append(_warn("PRM002", ("monitors", index), why,
                             "drift, quality, fairness and cost monitors still apply"))
        return out

    @staticmethod
    def _never_fires(m: Any) -> str | None:
        if m.kind in ("error_rate", "hallucination_rate") and m.threshold is not None and m.threshold >= 1:
            return "a ratio cannot exceed 100%"
        if m.kind == "grounding" and m.threshold is not None and m.threshold <= 0:
            return "a grounding score cannot fall below 0"
        if m.kind == "token_cost" and not (m.price_input_per_1k or m.price_output_per_1k):
            return "tokens are free at the declared prices"
        return None

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        assert isinstance(settings, PrometheusSettings)
        out: list[OutputFile] = []
        for env in plan.serving.environments:
            rules = build(plan, env, settings)
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

    def render_project(self, plans: Sequence[Plan], settings: Any) -> Iterable[OutputFile]:
        assert isinstance(settings, PrometheusSettings)
        if not plans:
            return []
        sources = tuple(sorted(p.provenance.spec_path for p in plans))
        out = [OutputFile(f"prometheus/alertmanager/teams/{team}.yaml", "yaml",
                          [alertmanager.team_fragment(team, plans, settings)], sources=sources)
               for team in alertmanager.teams(plans)]
        out.append(OutputFile("prometheus/alertmanager/alertmanager.yml", "yaml",
                              [alertmanager.config(plans, settings)], sources=sources))
        return out


def rule_sets(plan: Plan, settings: PrometheusSettings) -> list[RuleSet]:
    """Every environment's rules, for tests and tools that want the structure, not the files."""
    return [build(plan, env, settings) for env in plan.serving.environments]


__all__ = ["PrometheusTarget", "contract", "rule_sets"]
