"""`mlspec gate` and the Kubeflow pipeline's gate condition must agree on every candidate.

The pipeline's condition is the CEL expression KFP's driver evaluates in front of register-model. Here it
is taken from the RENDERED pipeline IR and evaluated by a real CEL implementation (the
`common-expression-language` package, which like cel-go refuses int/double arithmetic), with
`inputs.parameter_values` filled from the IR's own wiring of the condition task's inputs; the verdict of
`compiler.evaluation.verdict.evaluate` (what `mlspec gate` runs) must be the same, for negative, zero and positive
baselines, absolute and relative tolerances, both directions.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tools import require_module

from compiler.evaluation.verdict import FAIL, PASS, evaluate, gate_command
from compiler.planning.plan import GatePlan, Plan
from golden import SPECS, render_examples
from targets.kubeflow import KubeflowSettings, KubeflowTarget, names
from targets.kubeflow.ir import training_pipeline


@pytest.fixture(scope="module")
def fraud() -> Plan:
    result = render_examples(KubeflowTarget())
    return next(s.plan for s in result.specs if s.plan is not None and s.plan.name == "fraud-detector")


def _rendered_condition(plan: Plan) -> tuple[str, dict[str, Any]]:
    """The condition and the condition task's parameter wiring, read from the rendered IR."""
    root = training_pipeline(plan, KubeflowSettings()).ir["root"]
    task = root["dag"]["tasks"]["condition-gates"]
    return task["triggerPolicy"]["condition"], task["inputs"]["parameters"]


def _parameter_values(wiring: dict[str, Any], candidate: dict[str, float],
                      baseline: dict[str, float]) -> dict[str, float | str]:
    """What the driver would put into `inputs.parameter_values`: task outputs come from the candidate's
    evaluation step, pipeline parameters `baseline_<metric>` from the production metrics."""
    by_parameter = {names.baseline_parameter(m): v for m, v in baseline.items()}
    values: dict[str, float | str] = {}
    for key, source in wiring.items():
        if "taskOutputParameter" in source:
            values[key] = candidate[source["taskOutputParameter"]["outputParameterKey"]]
        else:  # the run's other parameters (model name, data hash, ...) are strings
            values[key] = by_parameter.get(source["componentInputParameter"], "run-parameter")
    return values


def _cel_verdict(condition: str, values: dict[str, float | str]) -> bool:
    cel = require_module("cel")
    result = cel.evaluate(condition, {"inputs": {"parameter_values": values}})
    assert isinstance(result, bool), f"condition did not evaluate to a bool: {result!r}"
    return result


def _gate(metric: str, direction: str, tolerance: float, relative: bool, *, min: float | None = None,
          max: float | None = None) -> GatePlan:
    return GatePlan(metric=metric, kind="quality", direction=direction, min=min, max=max, baseline=True,
                    tolerance=tolerance, tolerance_relative=relative)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
baselines = st.one_of(st.just(0.0), st.just(-0.5), st.just(0.5), finite)
tolerances = st.one_of(st.just(0.0), st.just(0.1), st.floats(min_value=0, max_value=1, allow_nan=False),
                       st.floats(min_value=0, max_value=100, allow_nan=False))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(direction=st.sampled_from(["higher", "lower"]), relative=st.booleans(), tolerance=tolerances,
       base=baselines, delta=st.one_of(finite, st.just(0.0)), near=st.booleans())
@example(direction="higher", relative=True, tolerance=0.1, base=-0.5, delta=0.0, near=True)  # the r2
def test_pipeline_condition_and_gate_agree(fraud: Plan, direction: str, relative: bool, tolerance: float,
                                           base: float, delta: float, near: bool) -> None:
    gate = _gate("r2", direction, tolerance, relative)
    plan = dataclasses.replace(fraud, gates=(gate,))
    condition, wiring = _rendered_condition(plan)
    # Candidates straddling the bound are where two definitions differ; `near` puts them there.
    bound = base - abs(base) * tolerance if relative else base - tolerance
    if direction == "lower":
        bound = base + abs(base) * tolerance if relative else base + tolerance
    candidate = (bound + delta * 1e-9) if near else base + delta
    checks = evaluate(plan.gates, {"r2": candidate}, {"r2": base})
    expected = all(c.verdict == PASS for c in checks)
    assert _cel_verdict(condition, _parameter_values(wiring, {"r2": candidate}, {"r2": base})) is expected, (
        condition, candidate, base, [c.to_json() for c in checks])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auc=finite, auc_base=baselines, loss=finite, loss_base=baselines, tol=tolerances,
       floor=st.one_of(st.none(), finite), ceiling=st.one_of(st.none(), finite))
def test_combined_gates_agree(fraud: Plan, auc: float, auc_base: float, loss: float, loss_base: float,
                              tol: float, floor: float | None, ceiling: float | None) -> None:
    """Absolute thresholds and both kinds of tolerance in one condition (joined with &&)."""
    gates = (_gate("auc", "higher", tol, True, min=floor), _gate("loss", "lower", tol, False, max=ceiling))
    plan = dataclasses.replace(fraud, gates=gates)
    condition, wiring = _rendered_condition(plan)
    cand, base = {"auc": auc, "loss": loss}, {"auc": auc_base, "loss": loss_base}
    expected = all(c.verdict == PASS for c in evaluate(plan.gates, cand, base))
    assert _cel_verdict(condition, _parameter_values(wiring, cand, base)) is expected, condition


def test_negative_baseline_through_the_command(tmp_path: Path, fraud: Plan) -> None:
    """The issue's case end to end (r2 = -0.5 there; auc here, the metric the example pipeline outputs):
    baseline -0.5, 10 %; -0.54 is within the tolerance (bound -0.55)."""
    spec = (SPECS / "fraud-detector.yaml").read_text().replace(
        "  - {metric: auc, min: 0.92, baseline: {tolerance: 0.005}}\n",
        "  - {metric: auc, baseline: {tolerance: 10%}}\n")  # the evaluating step outputs auc
    assert "tolerance: 10%" in spec
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "fraud-detector.yaml"
    path.write_text(spec)
    (tmp_path / "c.json").write_text('{"auc": -0.54, "latency_p99_ms": 30}')
    (tmp_path / "b.json").write_text('{"auc": -0.5}')
    from click.testing import CliRunner

    result = CliRunner().invoke(gate_command, [str(path), "--candidate", str(tmp_path / "c.json"),
                                               "--baseline", str(tmp_path / "b.json"), "--format", "json"])
    assert result.exit_code == 0, result.output
    gate = _gate("r2", "higher", 0.1, True)
    condition, wiring = _rendered_condition(dataclasses.replace(fraud, gates=(gate,)))
    assert _cel_verdict(condition, _parameter_values(wiring, {"r2": -0.54}, {"r2": -0.5})) is True
    assert _cel_verdict(condition, _parameter_values(wiring, {"r2": -0.56}, {"r2": -0.5})) is False
    assert [c.verdict for c in evaluate((gate,), {"r2": -0.56}, {"r2": -0.5})] == [FAIL]


# --- end to end: one spec, the rendered pipeline file, and `mlspec gate`'s own run ------------------------

E2E_GATES = ("  - {metric: auc, min: -0.25, baseline: {tolerance: 10%}}\n"
             "  - {metric: latency_p99_ms, max: 50, baseline: {tolerance: 5}}\n")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    """A spec with relative and absolute baseline gates, and the condition of its RENDERED pipeline file."""
    import yaml

    from compiler.pipeline import run
    from golden import registry_of

    root = tmp_path_factory.mktemp("e2e")
    (root / "specs").mkdir()
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    text = (SPECS / "fraud-detector.yaml").read_text()
    text = text.replace("  - {metric: auc, min: 0.92, baseline: {tolerance: 0.005}}\n"
                        "  - {metric: latency_p99_ms, max: 50}\n", E2E_GATES)
    assert E2E_GATES in text
    spec = root / "specs" / "fraud-detector.yaml"
    spec.write_text(text)
    result = run([spec], root=root, render=True, registry=registry_of(KubeflowTarget()), jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    ir = next(yaml.safe_load_all(result.files()["models/fraud-detector/kubeflow/pipeline.yaml"]))  # IR, platform
    task = ir["root"]["dag"]["tasks"]["condition-gates"]
    return spec, task["triggerPolicy"]["condition"], task["inputs"]["parameters"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auc=finite, auc_base=baselines, latency=finite, latency_base=baselines)
@example(auc=-0.54, auc_base=-0.5, latency=54.0, latency_base=50.0)
@example(auc=-0.56, auc_base=-0.5, latency=30.0, latency_base=50.0)
def test_mlspec_gate_and_the_rendered_pipeline_agree(e2e: tuple[Path, str, dict[str, Any]], tmp_path: Path,
                                                     auc: float, auc_base: float, latency: float,
                                                     latency_base: float) -> None:
    from compiler.evaluation.verdict import run_gate

    spec, condition, wiring = e2e
    cand, base = {"auc": auc, "latency_p99_ms": latency}, {"auc": auc_base, "latency_p99_ms": latency_base}
    (tmp_path / "c.json").write_text(json.dumps(cand))
    (tmp_path / "b.json").write_text(json.dumps(base))
    gate = run_gate(spec, tmp_path / "c.json", tmp_path / "b.json")
    assert gate.verdict is not None, [d.to_text() for d in gate.diagnostics]
    assert _cel_verdict(condition, _parameter_values(wiring, cand, base)) is (gate.exit_code == 0), (
        condition, gate.verdict["gates"])
