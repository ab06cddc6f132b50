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

from compiler.pipeline import run
from compiler.planning.plan import Plan
from golden import REPO, registry_of, render_examples
from targets.prometheus import PrometheusTarget
from targets.prometheus.context import RuleContext
from targets.prometheus.rules import build, unwatched
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
    generated = run(None, root=tmp_path, registry=registry_of(PrometheusTarget()), jobs=1)
    examples = render_examples(PrometheusTarget())
    corpus = run(sorted((REPO / "tests" / "invalid" / "targets").glob("*.yaml")), root=REPO,
                 registry=registry_of(PrometheusTarget()), jobs=1)  # the target's findings, one spec each
    plans = [s.plan for s in [*generated.specs, *examples.specs, *corpus.specs] if s.plan is not None]
    assert {p.serving.pattern for p in plans} >= {"realtime", "batch"}
    assert any(unwatched(RuleContext(p, p.serving.environments[0], SETTINGS[0])) for p in plans)
    assert any(len(p.serving.environments) > 1 for p in plans)
    return plans


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
