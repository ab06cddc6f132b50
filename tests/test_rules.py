"""Semantic rules, one focused case each: what they catch, and the look-alikes they must let through.

The corpus (test_lint_corpus) proves each code's exact message and position; these prove the edges.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.check.cycles import find_cycle
from compiler.check.rules import image_problem
from compiler.diagnostics import dotted
from compiler.pipeline import Context, check_spec, make_context
from compiler.render.plugins import Registry

BASE: dict[str, Any] = {
    "apiVersion": "mlspec/v1",
    "kind": "Model",
    "metadata": {"name": "demo", "team": "demo-team", "risk": "limited", "description": "Demo."},
    "owners": [{"name": "Owner", "email": "owner@example.com", "roles": ["owner", "approver"]}],
    "data": {"dataset": "demo", "version": "1",
             "dvc": {"path": "data/demo.csv", "md5": "0123456789abcdef0123456789abcdef"},
             "features": [{"name": "amount", "type": "float"}, {"name": "country", "type": "category"}]},
    "model": {"framework": "sklearn", "version": "2", "uri": "s3://models/demo/2",
              "code": {"repo": "https://github.com/acme/demo", "commit": "0123456789abcdef0123456789abcdef01234567"},
              "previous": {"version": "1", "uri": "s3://models/demo/1"}},
    "pipeline": {"image": "ghcr.io/acme/demo:2", "steps": [{"name": "train", "command": ["python", "train.py"]}]},
    "serving": {"pattern": "realtime", "environments": {"production": {"namespace": "demo-prod"}}},
    "monitors": [{"name": "error-rate", "kind": "error_rate", "threshold": "1%"}],
}
HIGH_RISK = {
    "metadata.risk": "high",
    "owners": [{"name": "Owner", "email": "owner@example.com", "roles": ["owner", "approver"]},
               {"name": "On-call", "email": "oncall@example.com", "roles": ["oncall"]}],
    "modelCard": {"intendedUse": "Demo.", "limitations": "Demo."},
    "gates": [{"metric": "accuracy", "min": 0.9}],
    "rollout": {"canary": [{"traffic": 10, "duration": "1h"}], "rollbackOn": ["error-rate"]},
}


def spec(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes (`serving.pattern="batch"`); the value None deletes the key."""
    data = copy.deepcopy(BASE)
    for dotted_path, value in changes.items():
        *parents, last = dotted_path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return data


def high(**changes: Any) -> dict[str, Any]:
    return spec(**{**HIGH_RISK, **changes})


@pytest.fixture
def context(tmp_path: Path) -> Context:
    return make_context(tmp_path, Registry())


def findings(data: dict[str, Any], context: Context) -> list[tuple[str, str]]:
    result = check_spec(json.dumps(data).encode(), "demo.yaml", "demo.yaml", context)
    return sorted((d.code, dotted(d.path)) for d in result.diagnostics)


def project_context(tmp_path: Path, text: str) -> Context:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n" + text)
    ctx = make_context(tmp_path, Registry())
    assert not ctx.diagnostics, ctx.diagnostics
    return ctx


def test_the_bases_are_clean(context: Context) -> None:
    assert findings(spec(), context) == []
    assert findings(high(), context) == []


Case = tuple[str, Callable[[], dict[str, Any]], list[tuple[str, str]]]
CASES: list[Case] = [
    ("digest-pinned image without tag is pinned",
     lambda: spec(**{"pipeline.image": "ghcr.io/acme/demo@sha256:" + "a" * 64}), []),
    ("registry port is not a tag", lambda: spec(**{"pipeline.image": "registry:5000/acme/demo"}),
     [("MLS221", "pipeline.image")]),
    ("ratio error-rate threshold", lambda: spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": 0.02}]), []),
    ("error-rate threshold above 100%", lambda: spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": 5}]),
     [("MLS105", "monitors[0].threshold")]),
    ("relative baseline tolerance",
     lambda: spec(gates=[{"metric": "auc", "min": 0.8, "baseline": {"tolerance": "1%"}}]), []),
    ("bad baseline tolerance", lambda: spec(gates=[{"metric": "auc", "baseline": {"tolerance": "lots"}}]),
     [("MLS105", "gates[0].baseline.tolerance")]),
    ("baseline-only gate on an unknown metric needs a direction",
     lambda: spec(gates=[{"metric": "widget_score", "baseline": {"tolerance": 0.01}}]),
     [("MLS207", "gates[0].baseline")]),
    ("explicit direction settles it",
     lambda: spec(gates=[{"metric": "widget_score", "direction": "higher", "baseline": {"tolerance": 0.01}}]), []),
    ("quality metric that is better lower, gated with min",
     lambda: spec(gates=[{"metric": "rmse", "min": 0.1}]), [("MLS207", "gates[0].min")]),
    ("quality metric better higher, gated with max", lambda: spec(gates=[{"metric": "auc", "max": 0.99}]),
     [("MLS207", "gates[0].max")]),
    ("cost gate with a maximum", lambda: spec(gates=[{"metric": "cost_per_request", "max": 0.01}]), []),
    ("fairness gate with a maximum", lambda: spec(gates=[{"metric": "demographic_parity_difference", "max": 0.1}]), []),
    ("gate min above max", lambda: spec(gates=[{"metric": "auc", "min": 0.9, "max": 0.8}]),
     [("MLS232", "gates[0].min")]),
    ("gate metric no step outputs",
     lambda: spec(**{"pipeline.steps": [{"name": "train", "command": ["t"], "metrics": ["auc"]}]},
                  gates=[{"metric": "acc", "min": 0.9}]), [("MLS202", "gates[0].metric")]),
    ("duplicate gate metric", lambda: spec(gates=[{"metric": "auc", "min": 0.8}, {"metric": "auc", "min": 0.7}]),
     [("MLS201", "gates[1].metric")]),
    ("duplicate owner email, case-insensitive",
     lambda: spec(owners=[{"name": "A", "email": "a@example.com", "roles": ["owner"]},
                          {"name": "B", "email": "A@Example.com", "roles": ["oncall"]}]),
     [("MLS201", "owners[1].email")]),
    ("duplicate feature",
     lambda: spec(**{"data.features": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}),
     [("MLS201", "data.features[1].name")]),
    ("feature min above max", lambda: spec(**{"data.features": [{"name": "a", "type": "int", "min": 2, "max": 1}]}),
     [("MLS232", "data.features[0]")]),
    ("drift on an unknown feature",
     lambda: spec(monitors=[{"name": "d", "kind": "data_drift", "features": ["amout"], "threshold": 0.2}]),
     [("MLS202", "monitors[0].features[0]")]),
    ("monitor owner routed to a known owner",
     lambda: spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": "1%", "owner": "owner@example.com"}]), []),
    ("monitor owner routed to the team",
     lambda: spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": "1%", "owner": "demo-team"}]), []),
    ("monitor owner unknown",
     lambda: spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": "1%", "owner": "nobody@example.com"}]),
     [("MLS202", "monitors[0].owner")]),
    ("throughput min above max", lambda: spec(monitors=[{"name": "t", "kind": "throughput", "min": 5, "max": 1}]),
     [("MLS232", "monitors[0]")]),
    ("latency SLO without its threshold",
     lambda: spec(monitors=[{"name": "s", "kind": "slo", "sli": "latency", "objective": 99}]),
     [("MLS233", "monitors[0]")]),
    ("rollout environment that does not exist",
     lambda: spec(rollout={"environment": "prod", "canary": [{"traffic": 10, "duration": "1h"}]}),
     [("MLS202", "rollout.environment")]),
    ("advanceWhenQuiet names a missing monitor",
     lambda: spec(rollout={"canary": [{"traffic": 10, "duration": "1h"}], "advanceWhenQuiet": ["latency"]}),
     [("MLS202", "rollout.advanceWhenQuiet[0]")]),
    ("dvc registry repo without commit", lambda: spec(**{"data.dvc.repo": "https://github.com/acme/data"}),
     [("MLS235", "data.dvc")]),
    ("no data pin at all", lambda: spec(**{"data.dvc": None}), [("MLS235", "data")]),
    ("dvc directory pin", lambda: spec(**{"data.dvc.md5": "0123456789abcdef0123456789abcdef.dir"}), []),
    ("edge model needs serving.edge", lambda: spec(**{"serving.pattern": "edge"}), [("MLS230", "serving")]),
    ("secret-looking value under an innocent name",
     lambda: spec(**{"pipeline.steps": [{"name": "t", "command": ["t"], "env": {"X": "AKIA" + "A" * 16}}]}),
     [("MLS225", "pipeline.steps[0].env.X")]),
    ("secret by reference",
     lambda: spec(**{"pipeline.steps": [{"name": "t", "command": ["t"],
                                         "env": {"DB_PASSWORD": {"secretRef": {"name": "db", "key": "password"}}}}]}),
     []),
    ("args without command is a command", lambda: spec(**{"pipeline.steps": [{"name": "t", "args": ["--x"]}]}), []),
    ("model URI ending in an alias", lambda: spec(**{"model.uri": "s3://models/demo/production"}),
     [("MLS224", "model.uri")]),
    ("high risk batch needs no rollout stage",
     lambda: high(**{"serving.pattern": "batch", "serving.batch": {"schedule": "0 1 * * *", "input": "s3://i/",
                                                                   "output": "s3://o/"}, "rollout": None}), []),
    ("high risk with shadow only", lambda: high(rollout={"shadow": {"duration": "24h"}}), []),
    ("unacceptable risk stops the other risk rules", lambda: high(**{"metadata.risk": "unacceptable", "gates": None}),
     [("MLS208", "metadata.risk")]),
    ("cron with names", lambda: spec(**{"pipeline.schedule": "0 3 * * MON"}), []),
    ("cron with a bad step", lambda: spec(**{"pipeline.schedule": "*/0 * * * *"}), [("MLS206", "pipeline.schedule")]),
]


@pytest.mark.parametrize(("data", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_rule(data: Callable[[], dict[str, Any]], expected: list[tuple[str, str]], context: Context) -> None:
    assert findings(data(), context) == sorted(expected)


def test_every_rule_reports_all_its_findings_at_once(context: Context) -> None:
    data = spec(**{"pipeline.steps": [
        {"name": "a", "command": ["a"], "after": ["x"]},
        {"name": "b", "command": ["b"], "after": ["y"]},
        {"name": "a", "command": ["c"]},
    ]}, monitors=[{"name": "m", "kind": "error_rate", "threshold": "1%", "severity": "critical"},
                  {"name": "m", "kind": "error_rate", "threshold": "1%", "severity": "critical"}])
    assert findings(data, context) == sorted([
        ("MLS202", "pipeline.steps[0].after[0]"), ("MLS202", "pipeline.steps[1].after[0]"),
        ("MLS201", "pipeline.steps[2].name"), ("MLS201", "monitors[1].name"),
        ("MLS234", "monitors[0]"), ("MLS234", "monitors[1]"),
    ])


def test_a_high_risk_spec_missing_everything_gets_every_finding(context: Context) -> None:
    data = spec(**{"metadata.risk": "high", "rollout": {"manualApproval": False}, "serving.payloadLogging": False,
                   "owners": [{"name": "Owner", "email": "owner@example.com", "roles": ["owner"]}]})
    assert [c for c, _ in findings(data, context)] == ["MLS210", "MLS211", "MLS212", "MLS213", "MLS214", "MLS215",
                                                      "MLS216"]


def test_runbook_base_in_the_project_satisfies_critical_monitors(tmp_path: Path) -> None:
    ctx = project_context(tmp_path, "defaults: {runbookBase: https://runbooks.example.com}\n")
    data = spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": "1%", "severity": "critical"}])
    assert findings(data, ctx) == []


def test_team_policy_allows_listed_namespaces(tmp_path: Path) -> None:
    ctx = project_context(tmp_path, "teams:\n  demo-team: {namespaces: [demo-prod]}\n  other: {}\n")
    assert findings(spec(), ctx) == []
    assert findings(spec(**{"metadata.team": "other"}), ctx) == []  # no namespace list: any namespace
    assert findings(spec(**{"serving.environments.production.namespace": "x"}), ctx) == [
        ("MLS220", "serving.environments.production.namespace")]


def test_registry_policy_checks_step_images_too(tmp_path: Path) -> None:
    ctx = project_context(tmp_path, "allowedRegistries: [ghcr.io/acme]\n")
    data = spec(**{"pipeline.steps": [{"name": "t", "command": ["t"], "image": "docker.io/evil/x:1"}]})
    assert findings(data, ctx) == [("MLS227", "pipeline.steps[0].image")]
    # A prefix must end at a path boundary: ghcr.io/acme-evil is not ghcr.io/acme.
    assert findings(spec(**{"pipeline.image": "ghcr.io/acme-evil/x:1"}), ctx) == [("MLS227", "pipeline.image")]


@pytest.mark.parametrize(("graph", "cycle"), [
    ({"a": [], "b": ["a"]}, None),
    ({"a": ["a"]}, ["a"]),
    ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c"]),
    ({"x": [], "a": ["b"], "b": ["a"]}, ["a", "b"]),
])
def test_find_cycle(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


_STEP_NAMES = ["a", "b", "c", "d"]


@given(st.lists(st.tuples(st.sampled_from(_STEP_NAMES), st.lists(st.sampled_from([*_STEP_NAMES, "x"]), max_size=3)),
                min_size=1, max_size=5))
def test_the_step_graph_finds_every_cycle_find_cycle_finds(steps: list[tuple[str, list[str]]]) -> None:
    """step_graph skips find_cycle for distinct steps that come after earlier ones only (no cycle possible):
    its findings are those of asking find_cycle every time, duplicate names and self-references included."""
    from types import SimpleNamespace

    from compiler.check import rules

    data = SimpleNamespace(pipeline=SimpleNamespace(steps=[
        SimpleNamespace(name=name, after=after, command=["run"], args=[]) for name, after in steps]))
    found = [(d.code, d.path, d.message) for d in rules.step_graph(data, None)]  # type: ignore[arg-type]
    names = [name for name, _ in steps]
    graph: dict[str, list[str]] = {}
    for name, after in steps:
        graph.setdefault(name, []).extend(dep for dep in after if dep in names)
    cycle = find_cycle(graph)
    expected = [("MLS203", ("pipeline", "steps", names.index(cycle[0]), "after"),
                 "steps depend on each other in a cycle: " + " -> ".join([*cycle, cycle[0]]))] if cycle else []
    assert [f for f in found if f[0] == "MLS203"] == expected


@pytest.mark.parametrize(("image", "ok"), [
    ("ghcr.io/acme/x:1.2.3", True), ("x:1", True), ("registry:5000/x:v1", True),
    ("ghcr.io/acme/x@sha256:" + "0" * 64, True), ("ghcr.io/acme/x:1@sha256:" + "0" * 64, True),
    ("ghcr.io/acme/x", False), ("ghcr.io/acme/x:latest", False), ("Ghcr.io/X:1", False), ("x:", False),
    ("x@sha256:abc", False), ("", False),
])
def test_image_problem(image: str, ok: bool) -> None:
    assert (image_problem(image) is None) is ok


def test_project_default_severity_applies_to_monitors_that_set_none(tmp_path: Path) -> None:
    # defaults.severity in mlspec.yaml is the severity of every monitor that does not write its own.
    (tmp_path / "project").mkdir()
    (tmp_path / "plain").mkdir()
    ctx = project_context(tmp_path / "project", "defaults: {severity: critical}\n")
    data = spec(monitors=[{"name": "e", "kind": "error_rate", "threshold": "1%"},
                          {"name": "w", "kind": "error_rate", "threshold": "2%", "severity": "warning"}])
    # A critical monitor needs a runbook: the default made `e` critical, `w` keeps its own severity.
    assert findings(data, ctx) == [("MLS234", "monitors[0]")]
    data["monitors"][0]["runbook"] = "https://runbooks.example.com/e"
    result = check_spec(json.dumps(data).encode(), "demo.yaml", "demo.yaml", ctx)
    assert result.plan is not None
    assert [(m.name, m.severity) for m in result.plan.monitors] == [("e", "critical"), ("w", "warning")]
    # Without a project default the built-in one (warning) holds.
    plain_ctx = make_context(tmp_path / "plain", Registry())
    plain = check_spec(json.dumps(data).encode(), "demo.yaml", "demo.yaml", plain_ctx)
    assert plain.plan is not None
    assert [m.severity for m in plain.plan.monitors] == ["warning", "warning"]


def test_cron_verdicts_are_remembered_per_expression_not_per_shape(context: Context) -> None:
    """compiler.language.units.is_cron remembers croniter's verdict by the exact text: alternating schedules of one
    shape must still be judged each on its own."""
    for schedule, ok in [("0 3 * * 1", True), ("*/0 * * * *", False), ("0 3 * * 1", True), ("0 25 * * 1", False),
                         ("*/5 * * * *", True), ("*/0 * * * *", False), ("0 3 * * 8", False), ("0 3 * * 7", True)]:
        expected = [] if ok else [("MLS206", "pipeline.schedule")]
        assert findings(spec(**{"pipeline.schedule": schedule}), context) == expected, schedule
