"""The prometheus target keeps the rule set its check built for render (the pipeline checks and then renders
one plan object): rendering after a check writes exactly what rendering alone writes."""

from __future__ import annotations

import dataclasses

from compiler.planning.plan import EnvironmentPlan, Plan
from compiler.render.serialize import serialize
from golden import render_examples
from targets.prometheus import PrometheusTarget
from targets.prometheus.rules import build
from targets.prometheus.ruleset import RuleSet
from targets.prometheus.settings import PrometheusSettings

SETTINGS = PrometheusSettings()


class Uncached(PrometheusTarget):
    """Builds every rule set afresh: what the target wrote before it kept one."""

    def _rules(self, plan: Plan, env: EnvironmentPlan, settings: PrometheusSettings) -> RuleSet:
        return build(plan, env, settings)


def _files(target: PrometheusTarget, plan: Plan, settings: PrometheusSettings = SETTINGS) -> dict[str, bytes]:
    return {f.path: serialize(f, ("spec.yaml",)) for f in target.render(plan, settings)}


def test_rendering_after_a_check_writes_what_rendering_alone_writes() -> None:
    plans: list[Plan] = [s.plan for s in render_examples(PrometheusTarget()).specs if s.plan is not None]
    assert any(len(p.serving.environments) > 1 for p in plans)
    shared = PrometheusTarget()
    for plan in plans:
        list(shared.check(plan, SETTINGS))
        assert _files(shared, plan) == _files(Uncached(), plan), plan.name


def test_a_rule_set_is_kept_for_that_plan_object_and_those_settings_only() -> None:
    plans: list[Plan] = [s.plan for s in render_examples(PrometheusTarget()).specs if s.plan is not None]
    changed = PrometheusSettings(minRequestRate=SETTINGS.minRequestRate * 2,
                                 stalenessFactor=SETTINGS.stalenessFactor * 2)
    target = PrometheusTarget()
    for plan in plans:
        list(target.check(plan, SETTINGS))
        other = dataclasses.replace(plan, name=plan.name + "-other")  # equal in all else, another object
        assert _files(target, other) == _files(Uncached(), other)
        assert _files(target, plan) == _files(Uncached(), plan)
        list(target.check(plan, SETTINGS))
        assert _files(target, plan, changed) == _files(Uncached(), plan, changed)
