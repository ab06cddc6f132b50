"""The serving-stack metric contracts (compiler/monitoring/serving_metrics.py) and what the prometheus target does
with them: rules read only series the model's runtime exports, latency thresholds meet real bucket
bounds, monitors are scoped and tuned per environment, and the rollout gate counts the right series.

Names for runtimes that cannot run here (vLLM, Triton, Knative's queue-proxy) are checked against
recorded `/metrics` expositions in tests/data/expositions, each written from the upstream source named
in its header (a stand-in, not a live capture). The KServe Python server is judged live in
tests/test_behaviour.py and below.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import DATA, REPO_ROOT

from compiler.monitoring import serving_metrics
from compiler.pipeline import RunResult, run
from compiler.planning.plan import Plan, StagePlan, monitor_in
from compiler.rollout.health import traffic_query
from golden import registry_of
from targets.prometheus import PrometheusTarget, rule_sets
from targets.prometheus.settings import PrometheusSettings

EXPOSITIONS = DATA / "expositions"


def spec(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())
    data["metadata"]["name"] = "m1"
    data["metadata"]["risk"] = "limited"  # no shadow/canary needed; the rollout keeps only its stages
    data["rollout"]["advanceWhenQuiet"] = data["rollout"]["rollbackOn"] = []
    for key, value in changes.items():
        data[key] = value
    return data


def lint(tmp_path: Path, data: dict[str, Any], project: dict[str, Any] | None = None) -> RunResult:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "m1.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "mlspec.yaml").write_text(yaml.safe_dump({"apiVersion": "mlspec/v1", "kind": "Project",
                                                          **(project or {})}))
    return run([tmp_path / "specs"], root=tmp_path, registry=registry_of(PrometheusTarget()), jobs=1)


def codes(result: RunResult) -> list[tuple[str, str]]:
    return [(d.code, ".".join(map(str, d.path))) for d in result.diagnostics if d.code.startswith("PRM")]


def plan_of(tmp_path: Path, data: dict[str, Any], project: dict[str, Any] | None = None) -> Plan:
    result = lint(tmp_path, data, project)
    found = next(s.plan for s in result.specs if s.plan is not None)
    return found


ERROR_RATE = {"name": "error-rate", "kind": "error_rate", "threshold": "1%"}


# --- monitors on series the runtime does not export ------------------------------------------------

def test_error_rate_on_the_stock_kserve_server_is_an_error_with_what_to_configure(tmp_path: Path) -> None:
    result = lint(tmp_path, spec(monitors=[ERROR_RATE], rollout=None))
    found = [d for d in result.diagnostics if d.code == "PRM020"]
    assert [(d.code, d.path, d.is_error) for d in found] == [("PRM020", ("monitors", 0), True)]
    assert "exports none" in found[0].message
    assert found[0].hint is not None
    assert "inferenceErrors: exporter" in found[0].hint


def test_declared_exporter_counter_is_read_without_turning_its_absence_into_zero(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, spec(monitors=[{**ERROR_RATE, "failures": "exporter"}], rollout=None))
    rules = rule_sets(plan, PrometheusSettings())[0]
    ratio = next(r["expr"] for r in rules.records if r["record"].startswith("ml:request_errors"))
    assert ratio.startswith("sum(rate(ml_inference_errors_total{")
    assert not re.search(r"ml_inference_errors_total\{[^}]*\}\[5m\]\)\) or vector\(0\)", ratio), ratio
    missing = [a for a in rules.alerts if a.name == "ErrorRateErrorCounterMissing"]
    assert len(missing) == 1
    assert missing[0].expr.startswith("absent(ml_inference_errors_total{")


def test_project_setting_declares_the_counter_for_every_model(tmp_path: Path) -> None:
    result = lint(tmp_path, spec(monitors=[ERROR_RATE], rollout=None),
                  {"targets": {"prometheus": {"inferenceErrors": "exporter"}}})
    assert not [d for d in result.diagnostics if d.is_error], [d.to_text() for d in result.diagnostics]


def test_llm_on_huggingfaceserver_reads_vllm_series_and_its_gate_sees_traffic(tmp_path: Path) -> None:
    data = spec(monitors=[{"name": "p95", "kind": "latency", "quantile": 0.95, "threshold": "2500ms"}])
    data["model"] = {**data["model"], "framework": "huggingface"}
    data["rollout"]["advanceWhenQuiet"] = data["rollout"]["rollbackOn"] = ["p95"]
    plan = plan_of(tmp_path, data)
    assert serving_metrics.stack_for(plan).name == "vllm"
    gate = traffic_query(plan, "production", 300)
    assert gate.startswith('sum(rate(vllm:e2e_request_latency_seconds_count{namespace="risk-prod", '
                           'model_name="m1"}[5m]))'), gate
    rules = rule_sets(plan, PrometheusSettings())[0]
    assert any("vllm:e2e_request_latency_seconds_bucket" in r["expr"] for r in rules.records)
    assert not any("request_predict_seconds" in r["expr"] for r in rules.records)


def test_llm_error_rate_and_latency_slo_off_the_vllm_buckets_are_errors(tmp_path: Path) -> None:
    data = spec(monitors=[ERROR_RATE, {"name": "fast", "kind": "slo", "sli": "latency", "latency": "3s",
                                       "objective": 95}], rollout=None)
    data["model"] = {**data["model"], "framework": "huggingface"}
    result = lint(tmp_path, data)
    assert codes(result) == [("PRM020", "monitors.0"), ("PRM021", "monitors.1.latency")]
    hint = next(d.hint for d in result.diagnostics if d.code == "PRM021")
    assert hint == "use 2500ms or 5s"


def test_latency_slo_off_the_kserve_buckets_never_counts_a_good_request(tmp_path: Path) -> None:
    slo = {"name": "fast", "kind": "slo", "sli": "latency", "latency": "300ms", "objective": 99}
    result = lint(tmp_path, spec(monitors=[slo], rollout=None))
    found = [d for d in result.diagnostics if d.code == "PRM021"]
    assert [(d.path, d.is_error, d.hint) for d in found] == [(("monitors", 0, "latency"), True, "use 250ms or 500ms")]
    assert not [d for d in lint(tmp_path, spec(monitors=[{**slo, "latency": "250ms"}], rollout=None)).diagnostics
                if d.is_error]


def test_latency_thresholds_between_or_beyond_buckets(tmp_path: Path) -> None:
    between = {"name": "p99", "kind": "latency", "threshold": "300ms"}
    beyond = {"name": "p99b", "kind": "latency", "threshold": "10s"}
    result = lint(tmp_path, spec(monitors=[between, beyond], rollout=None))
    assert codes(result) == [("PRM022", "monitors.0.threshold"), ("PRM023", "monitors.1.threshold")]
    assert [d.is_error for d in result.diagnostics if d.code in ("PRM022", "PRM023")] == [False, True]


def test_triton_throughput_reads_its_own_counters_so_the_floor_does_not_page_forever(tmp_path: Path) -> None:
    data = spec(monitors=[{"name": "floor", "kind": "throughput", "min": 1}, ERROR_RATE], rollout=None)
    data["model"] = {**data["model"], "framework": "onnx"}
    plan = plan_of(tmp_path, data)
    assert serving_metrics.stack_for(plan).name == "triton"
    rules = rule_sets(plan, PrometheusSettings())[0]
    requests = next(r["expr"] for r in rules.records if r["record"].startswith("ml:requests"))
    assert 'nv_inference_request_success{namespace="risk-staging", model="m1"}' in requests
    assert "nv_inference_request_failure" in requests
    assert "request_predict_seconds" not in json.dumps(rules.data())
    latency = lint(tmp_path, {**data, "monitors": [{"name": "p99", "kind": "latency", "threshold": "250ms"}]})
    assert codes(latency) == [("PRM020", "monitors.0")]


@pytest.mark.parametrize(("version", "requests"), [
    ("1.18", 'revision_request_count{namespace_name="risk-staging", service_name="m1-predictor"}'),
    ("1.19", 'http_server_request_duration_seconds_count{k8s_namespace_name="risk-staging", '
             'kn_service_name="m1-predictor"}'),
])
def test_knative_names_follow_the_configured_version(tmp_path: Path, version: str, requests: str) -> None:
    project = {"servingStack": "knative", "targets": {"prometheus": {"knativeVersion": version}}}
    plan = plan_of(tmp_path, spec(monitors=[ERROR_RATE], rollout=None), project)
    rules = rule_sets(plan, PrometheusSettings(knativeVersion=version))[0]
    assert requests in " ".join(r["expr"] for r in rules.records)


def test_the_gate_no_longer_imports_the_prometheus_target() -> None:
    tree = ast.parse((REPO_ROOT / "compiler" / "rollout" / "health.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in imported if m and m.startswith("targets")], imported


def test_the_shadow_gate_counts_the_shadow_inference_services_series(tmp_path: Path) -> None:
    # The shadow serves the primary's model name (mirrored requests keep their path), so its series
    # carry model_name="m1" and only its pods tell them apart.
    plan = plan_of(tmp_path, spec(monitors=[{**ERROR_RATE, "failures": "exporter"}]))
    shadow = StagePlan("shadow", "shadow", 0.0, 100.0, 60)
    canary = StagePlan("canary-5", "canary", 5.0, 0.0, 60)
    assert 'model_name="m1", pod=~"m1-shadow-predictor-.+"' in traffic_query(plan, "production", 60, shadow)
    assert 'model_name="m1"}' in traffic_query(plan, "production", 60, canary)


# --- per-environment monitors ------------------------------------------------------------------------

def alerts_by_env(plan: Plan) -> dict[str, dict[str, dict[str, str]]]:
    return {rs.env.name: {a.name: a.labels for a in rs.alerts} for rs in rule_sets(plan, PrometheusSettings())}


def test_staging_does_not_page_and_a_floor_is_dropped_where_replicas_scale_to_zero(tmp_path: Path) -> None:
    data = spec(monitors=[
        {**ERROR_RATE, "failures": "exporter", "severity": "critical", "runbook": "https://r.example.com/e"},
        {"name": "floor", "kind": "throughput", "min": 1},
        {"name": "drift", "kind": "data_drift", "threshold": 0.2}], rollout=None)
    data["serving"]["environments"]["staging"]["replicas"] = {"min": 0, "max": 2}
    alerts = alerts_by_env(plan_of(tmp_path, data))
    assert alerts["production"]["ErrorRate"]["severity"] == "critical"
    assert alerts["staging"]["ErrorRate"]["severity"] == "warning"
    assert alerts["production"]["DriftExporterStale"]["severity"] == "critical"
    assert alerts["staging"]["DriftExporterStale"]["severity"] == "warning"
    assert "FloorLow" in alerts["production"]
    assert "FloorLow" not in alerts["staging"]


def test_environments_and_overrides_scope_and_tune_a_monitor(tmp_path: Path) -> None:
    data = spec(monitors=[
        {"name": "floor", "kind": "throughput", "min": 5, "environments": ["production"]},
        {**ERROR_RATE, "failures": "exporter", "severity": "critical", "runbook": "https://r.example.com/e",
         "overrides": {"staging": {"threshold": "10%", "severity": "critical", "for": "30m"}}},
        {"name": "p99", "kind": "latency", "threshold": "250ms",
         "overrides": {"staging": {"threshold": "500ms", "window": "10m"}}},
        {"name": "floor2", "kind": "throughput", "min": 1, "overrides": {"staging": {"min": 0.5}}}], rollout=None)
    data["serving"]["environments"]["staging"]["replicas"] = {"min": 0, "max": 2}
    plan = plan_of(tmp_path, data)
    sets = {rs.env.name: rs for rs in rule_sets(plan, PrometheusSettings())}
    staging = {a.name: a for a in sets["staging"].alerts}
    production = {a.name: a for a in sets["production"].alerts}
    assert "FloorLow" in production
    assert "FloorLow" not in staging
    assert "> 0.1)" in staging["ErrorRate"].expr
    assert staging["ErrorRate"].labels["severity"] == "critical"
    assert staging["ErrorRate"].for_ == "30m"
    assert production["ErrorRate"].for_ == "10m"
    assert "> 0.5)" in staging["P99"].expr
    assert "histogram_quantile_rate10m" in staging["P99"].expr
    assert "< 0.5" in staging["Floor2Low"].expr  # asked for explicitly, so applied at minReplicas 0
    env = plan.environment("staging")
    assert monitor_in(plan.monitors[0], env) is None


def test_overrides_naming_unknown_environments_or_bad_thresholds_are_errors(tmp_path: Path) -> None:
    data = spec(monitors=[{**ERROR_RATE, "failures": "exporter", "environments": ["prod"],
                           "overrides": {"qa": {"severity": "info"}, "staging": {"threshold": "fast"}}},
                          {"name": "drift", "kind": "data_drift", "threshold": 0.2,
                           "overrides": {"staging": {"threshold": -1}}}],
                rollout=None)
    result = lint(tmp_path, data)
    assert codes(result) == [("PRM024", "monitors.0.environments"), ("PRM024", "monitors.0.overrides.qa"),
                             ("PRM025", "monitors.0.overrides.staging.threshold"),
                             ("PRM025", "monitors.1.overrides.staging.threshold")]
    assert all(d.is_error for d in result.diagnostics if d.code in ("PRM024", "PRM025"))


def test_a_gate_monitor_scoped_out_of_the_rollout_environment_is_an_error(tmp_path: Path) -> None:
    data = spec(monitors=[{**ERROR_RATE, "failures": "exporter", "environments": ["staging"]}])
    data["rollout"]["rollbackOn"] = ["error-rate"]
    assert codes(lint(tmp_path, data)) == [("PRM026", "rollout.rollbackOn")]


def test_time_scale_shortens_windows_and_for_at_render_time(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, spec(monitors=[{**ERROR_RATE, "failures": "exporter", "window": "5m", "for": "1m"}],
                                  rollout=None))
    rules = rule_sets(plan, PrometheusSettings(timeScale=1 / 30))[0]
    alert = next(a for a in rules.alerts if a.name == "ErrorRate")
    assert (alert.for_, alert.keep_firing_for) == ("2s", "10s")
    assert "[10s]" in next(r["expr"] for r in rules.records if r["record"] == "ml:request_errors:ratio_rate10s")


# --- the contracts against recorded expositions (stand-ins for runtimes that cannot run here) --------

def parse_exposition(text: str) -> dict[str, list[dict[str, str]]]:
    """metric name -> label sets, from Prometheus text format (comments and blank lines skipped)."""
    out: dict[str, list[dict[str, str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r'([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+(\s+\S+)?', line.strip())
        assert match, line
        labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        out.setdefault(match.group(1), []).append(labels)
    return out


@pytest.mark.parametrize(("stack", "exposition", "model", "namespace"), [
    ("vllm", "vllm.txt", "m1", None),
    ("triton", "triton.txt", "m1", None),
    ("knative", "knative-1.18.txt", "m1-predictor", "risk-prod"),
    ("knative-otel", "knative-1.19.txt", "m1-predictor", "risk-prod"),
])
def test_stack_contract_matches_the_recorded_exposition(stack: str, exposition: str, model: str,
                                                        namespace: str | None) -> None:
    """Every series a stack selects exists in the runtime's exposition with the labels selected on
    (`namespace` is what service discovery adds, for all but Knative, which labels its own)."""
    s = serving_metrics.STACKS[stack]
    series = parse_exposition((EXPOSITIONS / exposition).read_text())
    wanted = [m for m in (s.requests_metric, s.errors_metric) if m]
    if s.latency is not None:
        wanted += [s.latency.bucket_metric, s.latency.count_metric]
    for metric in wanted:
        assert metric in series, f"{metric} not in {exposition}"
        labelled = [ls for ls in series[metric] if ls.get(s.model_label) == model]
        assert labelled, f"{metric} has no {s.model_label}={model!r} in {exposition}"
        if s.namespace_label != "namespace":
            assert all(ls.get(s.namespace_label) == namespace for ls in labelled)
    for label, regex in s.errors_extra:
        assert any(re.fullmatch(regex, ls.get(label, "")) for ls in series[s.errors_metric or ""])
    if s.latency is not None and s.latency.buckets is not None:
        bounds = sorted({float(ls["le"]) for ls in series[s.latency.bucket_metric] if ls["le"] != "+Inf"})
        assert tuple(bounds) == s.latency.buckets
