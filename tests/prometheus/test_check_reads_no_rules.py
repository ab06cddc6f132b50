"""The prometheus check reads what decides its findings (the monitors skipped for want of live traffic,
the serving stack, the monitors as applied per environment) from the rule context, without building the
rules: the same values the built rule set holds. Render builds the rules, and reports an expression that
does not parse (PRM900, a bug in the target) at the spec's first line instead of writing it."""

from __future__ import annotations

import sys
from typing import Any

import promql_parser
import pytest
import yaml

from compiler.diagnostics import Diagnostic
from compiler.pipeline import run
from compiler.planning.plan import Plan
from golden import REPO, registry_of, render_examples
from targets.prometheus import PrometheusTarget
from targets.prometheus.context import RuleContext
from targets.prometheus.rules import build, unexported, unwatched
from targets.prometheus.settings import PrometheusSettings

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec

SETTINGS = [PrometheusSettings(), PrometheusSettings(timeScale=0.01, minRequestRate=0.5)]


def _plans(tmp_path: Any) -> list[Plan]:
    specs = tmp_path / "specs"
    specs.mkdir()
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for index in range(40):
        (specs / f"model-{index:04d}.yaml").write_text(yaml.safe_dump(make_spec(index), sort_keys=False))
    (specs / "scoped.yaml").write_text(yaml.safe_dump(_scoped(), sort_keys=False))
    generated = run(None, root=tmp_path, registry=registry_of(PrometheusTarget()), jobs=1)
    examples = render_examples(PrometheusTarget())
    corpus = run(sorted((REPO / "tests" / "invalid" / "targets").glob("*.yaml")), root=REPO,
                 registry=registry_of(PrometheusTarget()), jobs=1)  # the target's findings, one spec each
    plans = [s.plan for s in [*generated.specs, *examples.specs, *corpus.specs] if s.plan is not None]
    assert {p.serving.pattern for p in plans} >= {"realtime", "batch"}
    assert any(unwatched(RuleContext(p, p.serving.environments[0], SETTINGS[0])) for p in plans)
    assert any(len(p.serving.environments) > 1 for p in plans)
    return plans


def _scoped() -> dict[str, Any]:
    """Monitors that differ per environment: a latency threshold a bucket bound in production and between
    bounds in staging (by override), failure-counting monitors watching one environment or none served."""
    spec = make_spec(3)  # streaming on the KServe Python server (no failure counter), staging and production
    spec["metadata"]["name"] = "scoped"
    monitors = spec["monitors"]
    latency = next(m for m in monitors if m["kind"] == "latency")
    latency.update(threshold="250ms", overrides={"staging": {"threshold": "300ms"}})
    errors = next(m for m in monitors if m["kind"] == "error_rate")
    del errors["failures"]
    errors["environments"] = ["staging"]
    monitors.append({"name": "nowhere", "kind": "error_rate", "threshold": "2%", "environments": ["canary"]})
    monitors.append({"name": "slo-fast", "kind": "slo", "sli": "latency", "latency": "300ms", "objective": 99.9,
                     "period": "28d", "environments": ["production"]})
    return spec


def _per_environment(plan: Plan, settings: PrometheusSettings) -> list[Diagnostic]:
    """The check's per-environment findings as they were found before: every monitor applied to every
    environment through a rule context, each finding once per (code, path), the first environment's."""
    found: list[Diagnostic] = []
    for env in plan.serving.environments:
        ctx = RuleContext(plan, env, settings)
        found += [Diagnostic("PRM002", why, path=("monitors", index)) for index, why in unwatched(ctx)]
        for index, m in ctx.monitors:
            missing = unexported(ctx.stack, m) if ctx.live else None
            if missing is not None:
                found.append(Diagnostic("PRM020", missing[0], path=("monitors", index), hint=missing[1]))
        stack = ctx.stack
        if stack.latency is not None and stack.latency.buckets is not None and ctx.live:
            found += PrometheusTarget._thresholds(stack, stack.latency.buckets, ctx.monitors)
    seen: set[tuple[str, Any]] = set()
    out = []
    for d in sorted(found, key=lambda d: d.path):
        if (d.code, d.path) not in seen:
            seen.add((d.code, d.path))
            out.append(d)
    return out


_PER_ENVIRONMENT = {"PRM002", "PRM020", "PRM021", "PRM022", "PRM023"}


def test_the_check_applies_only_the_monitors_whose_findings_differ_per_environment(tmp_path: Any) -> None:
    """The check applies only latency monitors per environment, and the others only when one reads a series
    the stack lacks: its findings are those of applying every monitor everywhere."""
    plans = _plans(tmp_path)
    seen = set()
    for plan in plans:
        for settings in SETTINGS:
            checked = [(d.code, d.path, d.message) for d in PrometheusTarget().check(plan, settings)
                       if d.code in _PER_ENVIRONMENT]
            assert checked == [(d.code, d.path, d.message) for d in _per_environment(plan, settings)], plan.name
            seen.update(code for code, _, _ in checked)
    assert seen == _PER_ENVIRONMENT
    scoped = next(p for p in plans if p.name == "scoped")
    assert [(d.code, d.path) for d in PrometheusTarget().check(scoped, SETTINGS[0]) if d.code in _PER_ENVIRONMENT] == [
        ("PRM022", ("monitors", 2, "threshold")), ("PRM020", ("monitors", 3)), ("PRM021", ("monitors", 7, "latency"))]


def test_the_check_reads_what_the_built_rules_hold(tmp_path: Any) -> None:
    for plan in _plans(tmp_path):
        for settings in SETTINGS:
            for env in plan.serving.environments:
                rules, ctx = build(plan, env, settings), RuleContext(plan, env, settings)
                assert (unwatched(ctx), ctx.stack, ctx.live, ctx.monitors, ctx.env) == (
                    rules.skipped, rules.stack, rules.live, rules.monitors, rules.env), plan.name


def test_an_expression_that_does_not_parse_is_prm900_at_render(monkeypatch: pytest.MonkeyPatch) -> None:
    import targets.prometheus.promql as promql

    def refuse(expr: str) -> Any:
        raise ValueError("unexpected token")

    monkeypatch.setattr(promql_parser, "parse", refuse)
    monkeypatch.setattr(promql, "_PARSED", set())
    spec = REPO / "specs" / "fraud-detector.yaml"
    linted = run([spec], root=REPO, registry=registry_of(PrometheusTarget()), jobs=1)
    assert "PRM900" not in {d.code for d in linted.diagnostics}  # lint builds no rules
    rendered = run([spec], root=REPO, render=True, registry=registry_of(PrometheusTarget()), jobs=1)
    found = [d for d in rendered.diagnostics if d.code == "PRM900"]
    assert [(d.file, d.line, d.col, d.hint) for d in found] == [
        (linted.specs[0].file, *linted.specs[0].position, "this is a bug in the prometheus target")]
    assert found[0].message.startswith("generated PromQL does not parse: unexpected token: ")
    assert not rendered.ok
    assert not any("/prometheus/" in path for path in rendered.files())
