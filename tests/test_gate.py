"""`mlspec gate`: absolute and baseline-relative gates, first deployments, missing metrics, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.evaluation.verdict import FAIL, PASS, SKIPPED, evaluate, gate_command
from compiler.planning.plan import GatePlan
from golden import SPECS

FRAUD = SPECS / "fraud-detector.yaml"  # auc >= 0.92 and >= baseline - 0.005; latency_p99_ms <= 50


def _gate(metric: str, *, direction: str = "higher", min: float | None = None, max: float | None = None,
          baseline: bool = False, tolerance: float = 0.0, relative: bool = False) -> GatePlan:
    return GatePlan(metric=metric, kind="quality", direction=direction, min=min, max=max, baseline=baseline,
                    tolerance=tolerance, tolerance_relative=relative)


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(gate_command, [str(a) for a in args])
    return result.exit_code, result.output


def test_absolute_bounds() -> None:
    gates = [_gate("auc", min=0.9), _gate("latency_ms", direction="lower", max=50)]
    assert [c.verdict for c in evaluate(gates, {"auc": 0.91, "latency_ms": 50}, None)] == [PASS, PASS]
    assert [c.verdict for c in evaluate(gates, {"auc": 0.89, "latency_ms": 51}, None)] == [FAIL, FAIL]


def test_absolute_tolerance_against_baseline() -> None:
    gate = [_gate("auc", baseline=True, tolerance=0.005)]
    assert evaluate(gate, {"auc": 0.936}, {"auc": 0.94})[0].verdict == PASS
    failed = evaluate(gate, {"auc": 0.934}, {"auc": 0.94})[0]
    assert failed.verdict == FAIL
    assert failed.threshold == pytest.approx(0.935)


def test_relative_tolerance_both_directions() -> None:
    higher = [_gate("auc", baseline=True, tolerance=0.01, relative=True)]
    assert evaluate(higher, {"auc": 0.891}, {"auc": 0.9})[0].verdict == PASS  # bound 0.891
    assert evaluate(higher, {"auc": 0.89}, {"auc": 0.9})[0].verdict == FAIL
    lower = [_gate("cost", direction="lower", baseline=True, tolerance=0.1, relative=True)]
    check = evaluate(lower, {"cost": 2.3}, {"cost": 2.0})[0]
    assert check.verdict == FAIL
    assert check.rule == "<= baseline + 10%"
    assert evaluate(lower, {"cost": 2.2}, {"cost": 2.0})[0].verdict == PASS


def test_no_baseline_is_skipped_explicitly() -> None:
    checks = evaluate([_gate("auc", min=0.9, baseline=True, tolerance=0.01)], {"auc": 0.95}, None)
    assert [c.verdict for c in checks] == [PASS, SKIPPED]
    assert "no baseline" in checks[1].reason


def test_missing_metric_fails() -> None:
    checks = evaluate([_gate("auc", min=0.9, baseline=True)], {}, {"auc": 0.9})
    assert [c.verdict for c in checks] == [FAIL, FAIL]
    assert all("missing" in c.reason for c in checks)


def test_cli_pass_writes_deterministic_verdict(tmp_path: Path) -> None:
    cand = _write(tmp_path, "c.json", {"auc": 0.95, "latency_p99_ms": 30})
    base = _write(tmp_path, "b.json", {"metrics": {"auc": 0.94}})
    out = tmp_path / "audit" / "verdict.json"
    code, output = _invoke(FRAUD, "--candidate", cand, "--baseline", base, "--out", out)
    assert code == 0, output
    assert "metric" in output
    assert "PASS" in output
    first = out.read_text()
    verdict = json.loads(first)
    assert verdict["verdict"] == "pass"
    assert verdict["model_version"] == "12"
    assert verdict["data_hash"].startswith("md5:")
    assert len(verdict["spec_digest"]) == 64
    assert list(verdict) == sorted(verdict)
    _invoke(FRAUD, "--candidate", cand, "--baseline", base, "--out", out)
    assert out.read_text() == first


def test_cli_fail_exits_1(tmp_path: Path) -> None:
    cand = _write(tmp_path, "c.json", {"auc": 0.93, "latency_p99_ms": 30})
    base = _write(tmp_path, "b.json", {"auc": 0.94})
    code, output = _invoke(FRAUD, "--candidate", cand, "--baseline", base, "--format", "json")
    assert code == 1
    verdict = json.loads(output)
    assert verdict["verdict"] == "fail"
    assert [g["verdict"] for g in verdict["gates"] if g["metric"] == "auc"] == ["pass", "fail"]


def test_cli_first_deployment_says_so(tmp_path: Path) -> None:
    cand = _write(tmp_path, "c.json", {"auc": 0.93, "latency_p99_ms": 30})
    code, output = _invoke(FRAUD, "--candidate", cand)
    assert code == 0
    assert "SKIPPED: no baseline" in output
    assert "first deployment" in output


def test_cli_missing_metric_exits_1(tmp_path: Path) -> None:
    cand = _write(tmp_path, "c.json", {"auc": 0.95})
    code, output = _invoke(FRAUD, "--candidate", cand)
    assert code == 1
    assert "missing from the candidate" in output


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"auc": "high"}', '{"auc": true}'])
def test_cli_bad_metrics_exit_2(tmp_path: Path, content: str) -> None:
    cand = tmp_path / "c.json"
    cand.write_text(content)
    code, output = _invoke(FRAUD, "--candidate", cand)
    assert code == 2
    assert "MLS002" in output


def test_cli_spec_with_errors_exits_2_with_diagnostics(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("apiVersion: mlspec/v1\nkind: Model\nmetadata: {name: Bad_Name}\n")
    (tmp_path / ".git").mkdir()
    cand = _write(tmp_path, "c.json", {"auc": 0.95})
    code, output = _invoke(spec, "--candidate", cand)
    assert code == 2
    assert "error" in output
    assert "broken.yaml" in output


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _invoke(FRAUD)[0] == 2  # --candidate is required
    assert _invoke(FRAUD, "--candidate", tmp_path / "absent.json")[0] == 2
