"""The kserve target: every rendered object judged by the real CRDs (made strict) and
kubernetes-validate, the golden tree, and one test per KSV rule on small spec variants."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kserve_cluster import canary_webhook_errors
from tools import require_crds

from compiler.diagnostics import Diagnostic
from compiler.pipeline import RunResult, run
from compiler.planning.plan import ActiveStage
from compiler.validation import validate_tree
from compiler.validation.common import UNKNOWN_KIND, check_object_meta
from golden import GOLDEN, SPECS, check_tree, registry_of, render_examples
from targets.kserve import KServeSettings, KServeTarget
from targets.kserve.checks import check

TARGET = KServeTarget()
FRAUD = SPECS / "fraud-detector.yaml"
KAFKA_SOURCE = ("sources.knative.dev/v1beta1", "KafkaSource")
CANARY_25 = "models/fraud-detector/kserve/production/stages/canary-25/inferenceservice.yaml"


def _docs(files: Mapping[str, bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path, data in sorted(files.items()):
        out += [(path, doc) for doc in yaml.safe_load_all(data) if doc is not None]
    return out


def _write(files: Mapping[str, bytes], root: Path) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _base_spec() -> dict[str, Any]:
    """fraud-detector without its own `serving.kserve` choice, so the project settings of each test apply."""
    data = yaml.safe_load(FRAUD.read_text())
    assert isinstance(data, dict)
    data["serving"].pop("kserve", None)
    return data


def _run(tmp_path: Path, spec: Mapping[str, Any], settings: Mapping[str, Any] | None = None,
         state: Mapping[str, Mapping[str, ActiveStage]] | None = None) -> RunResult:
    """Lint and render one spec variant in its own project with only the kserve target."""
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True, exist_ok=True)
    if settings is not None:
        project = {"apiVersion": "mlspec/v1", "kind": "Project", "targets": {"kserve": dict(settings)}}
        (root / "mlspec.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (root / "specs" / "model.yaml").write_text(yaml.safe_dump(dict(spec), sort_keys=False))
    return run([root / "specs"], root=root, render=True, registry=registry_of(TARGET), jobs=1, rollout_state=state)


def _codes(result: RunResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def _only(result: RunResult, code: str) -> Diagnostic:
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [d.to_text() for d in result.diagnostics]
    return found[0]


def _validate(files: Mapping[str, bytes], root: Path) -> Counter[str]:
    """Strict CRD + kubernetes-validate over the rendered tree; returns the validated kinds.

    Every kind, KafkaSource included, is judged by its upstream schema (the Knative
    eventing-kafka-broker CRD now sits in the shared folder): no diagnostic at all is accepted.
    """
    crds = require_crds()
    diags = validate_tree(_write(files, root), crds)
    assert not diags, "\n".join(d.to_text() for d in diags)
    return Counter(d["kind"] for _, d in _docs(files))


# --- the real validators on every example --------------------------------------------------------


def test_examples_pass_strict_crds_and_kubernetes_validate(tmp_path: Path) -> None:
    files = render_examples(TARGET).files()
    kinds = _validate(files, tmp_path)
    assert kinds["InferenceService"] >= 10
    assert kinds["VirtualService"] >= 1
    assert kinds["ServiceAccount"] >= 4
    assert kinds["KafkaSource"] >= 1
    assert kinds["Kustomization"] >= 4


@pytest.mark.parametrize("settings", [
    {"mode": "Knative", "mirroring": "gateway-api"},
    {"mode": "Standard", "mirroring": "gateway-api", "gateway": {"name": "edge", "namespace": "gw"}},
    {"mode": "Knative", "mirroring": "istio", "version": "0.14"},
])
def test_variants_pass_strict_crds(tmp_path: Path, settings: dict[str, Any]) -> None:
    spec = _base_spec()
    spec["rollout"]["shadow"]["mirror"] = 12.5
    result = _run(tmp_path, spec, settings)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    kinds = _validate(result.files(), tmp_path / "out")
    route = "HTTPRoute" if settings["mirroring"] == "gateway-api" else "VirtualService"
    assert kinds[route] == 1


def test_kafka_source_is_judged_by_its_crd(tmp_path: Path) -> None:
    """The KafkaSource CRD is strict: a misspelled field in a rendered source is refused."""
    files = dict(render_examples(TARGET).files())
    path = next(p for p, d in _docs(files) if (d["apiVersion"], d["kind"]) == KAFKA_SOURCE)
    doc = yaml.safe_load(files[path])
    doc["spec"]["consumerGroups"] = doc["spec"].pop("consumerGroup")
    files[path] = yaml.safe_dump(doc).encode()
    diags = validate_tree(_write(files, tmp_path), require_crds())
    assert [d.file for d in diags] == [path], [d.to_text() for d in diags]
    assert diags[0].code != UNKNOWN_KIND


def test_kafka_source_shape_and_metadata() -> None:
    files = render_examples(TARGET).files()
    sources = [d for _, d in _docs(files) if (d["apiVersion"], d["kind"]) == KAFKA_SOURCE]
    assert sources
    for doc in sources:
        assert check_object_meta(doc, strict_keys=True) == []
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        spec = doc["spec"]
        assert set(spec) == {"consumerGroup", "bootstrapServers", "topics", "net", "sink"}
        assert spec["bootstrapServers"]
        assert all(isinstance(s, str) for s in spec["bootstrapServers"])
        namespace = doc["metadata"]["namespace"]
        assert spec["sink"]["uri"].startswith(f"http://txn-anomaly-predictor.{namespace}.svc.cluster.local/")


def test_golden(update_golden: bool) -> None:
    check_tree(render_examples(TARGET).files(), GOLDEN / "kserve", update_golden)


# --- what is rendered ---------------------------------------------------------------------------


def test_every_object_has_provenance_and_isvc_mode() -> None:
    # The examples' project sets no mode (default Standard); txn-anomaly chooses Knative for itself.
    modes = {"txn-anomaly": "Knative"}
    for path, doc in _docs(render_examples(TARGET).files()):
        if doc["kind"] == "Kustomization":
            continue
        meta = doc["metadata"]
        assert meta["labels"]["mlspec.dev/model-version"], path
        assert meta["annotations"]["mlspec.dev/spec-digest"].startswith("sha256:"), path
        assert meta["annotations"]["mlspec.dev/code-commit"], path
        if doc["kind"] == "InferenceService":
            expected = modes.get(path.split("/")[1], "Standard")
            assert meta["annotations"]["serving.kserve.io/deploymentMode"] == expected, path


def test_batch_and_edge_render_nothing() -> None:
    specs = [SPECS / "churn-scorer.yaml", SPECS / "shelf-vision-edge.yaml"]
    for spec in specs:
        assert spec.is_file()
        assert yaml.safe_load(spec.read_text())["serving"]["pattern"] in ("batch", "edge")
    assert render_examples(TARGET, specs=specs).files() == {}


def test_fraud_detector_layout() -> None:
    files = render_examples(TARGET, specs=[FRAUD]).files()
    base = "models/fraud-detector/kserve/production"
    stages = sorted({p.split("/")[5] for p in files if p.startswith(f"{base}/stages/")})
    assert stages == ["canary-25", "canary-5", "canary-50", "full", "rollback", "shadow"]
    env = yaml.safe_load(files[f"{base}/kustomization.yaml"])
    assert env == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "namespace": "risk-prod", "resources": ["serviceaccount.yaml", "stages/shadow"]}
    shadow = yaml.safe_load(files[f"{base}/stages/shadow/kustomization.yaml"])
    assert shadow["resources"] == ["inferenceservice.yaml", "shadow-inferenceservice.yaml", "virtualservice.yaml"]
    live = yaml.safe_load(files[f"{base}/stages/shadow/inferenceservice.yaml"])
    candidate = yaml.safe_load(files[f"{base}/stages/shadow/shadow-inferenceservice.yaml"])
    assert live["spec"]["predictor"]["model"]["storageUri"] == "s3://models/fraud-detector/11"
    assert candidate["metadata"]["name"] == "fraud-detector-shadow"
    assert candidate["spec"]["predictor"]["model"]["storageUri"] == "s3://models/fraud-detector/12"
    rollback = yaml.safe_load(files[f"{base}/stages/rollback/inferenceservice.yaml"])
    assert rollback["spec"] == {"predictor": live["spec"]["predictor"]}
    full = yaml.safe_load(files[f"{base}/stages/full/inferenceservice.yaml"])
    assert "canary" not in full["spec"]
    assert full["spec"]["predictor"]["model"]["storageUri"].endswith("/12")
    staging = yaml.safe_load(files["models/fraud-detector/kserve/staging/kustomization.yaml"])
    assert staging["resources"] == ["serviceaccount.yaml", "inferenceservice.yaml"]
    predictor = full["spec"]["predictor"]
    assert predictor["logger"]["mode"] == "all"  # high risk: record keeping
    assert predictor["model"]["modelFormat"] == {"name": "xgboost"}
    assert predictor["model"]["runtime"] == "kserve-xgbserver"
    assert predictor["serviceAccountName"] == "fraud-detector-serving"
    account = yaml.safe_load(files[f"{base}/serviceaccount.yaml"])
    assert account["secrets"] == [{"name": "fraud-detector-storage"}]


def test_standard_canary_names_both_versions(tmp_path: Path) -> None:
    result = _run(tmp_path, _base_spec(), {"mode": "Standard", "version": "0.20"})
    isvc = yaml.safe_load(result.files()[CANARY_25])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["spec"]["predictor"]["model"]["storageUri"].endswith("/11")
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    [canary] = isvc["spec"]["canary"]
    assert canary["trafficPercent"] == 25
    assert canary["predictor"]["model"]["storageUri"].endswith("/12")
    assert (isvc["spec"]["predictor"]["scaleMetric"], isvc["spec"]["predictor"]["scaleTarget"]) == ("cpu", 80)


def test_knative_canary_uses_canary_traffic_percent(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["serving"]["autoscaling"] = {"metric": "concurrency", "target": 10}
    result = _run(tmp_path, spec, {"mode": "Knative"})
    assert "KSV010" not in _codes(result)
    isvc = yaml.safe_load(result.files()[CANARY_25])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert "canary" not in isvc["spec"]
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 25
    assert predictor["model"]["storageUri"].endswith("/12")
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 10)


def test_old_versions_get_old_mode_names(tmp_path: Path) -> None:
    result = _run(tmp_path, _base_spec(), {"mode": "Knative", "version": "0.14"})
    isvc = yaml.safe_load(result.files()["models/fraud-detector/kserve/staging/inferenceservice.yaml"])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"


def test_gateway_api_mirroring(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["rollout"]["shadow"]["mirror"] = 12.5
    result = _run(tmp_path, spec, {"mirroring": "gateway-api", "gateway": {"name": "edge", "namespace": "gw"}})
    files = result.files()
    shadow = "models/fraud-detector/kserve/production/stages/shadow"
    assert f"{shadow}/virtualservice.yaml" not in files
    route = yaml.safe_load(files[f"{shadow}/httproute.yaml"])
    assert route["spec"]["parentRefs"] == [{"name": "edge", "namespace": "gw"}]
    rule = route["spec"]["rules"][0]
    assert rule["backendRefs"] == [{"name": "fraud-detector-predictor", "port": 80}]
    assert rule["filters"][0]["requestMirror"] == {
        "backendRef": {"name": "fraud-detector-shadow-predictor", "port": 80},
        "fraction": {"numerator": 1, "denominator": 8}}


def test_istio_mirror_percentage(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["rollout"]["shadow"]["mirror"] = 30
    result = _run(tmp_path, spec, {"mirroring": "istio"})
    vs = yaml.safe_load(result.files()["models/fraud-detector/kserve/production/stages/shadow/virtualservice.yaml"])
    http = vs["spec"]["http"][0]
    assert http["mirrorPercentage"] == {"value": 30.0}
    assert http["mirror"]["host"] == "fraud-detector-shadow-predictor.risk-prod.svc.cluster.local"
    assert vs["spec"]["gateways"] == ["kserve/kserve-ingress-gateway"]


def test_active_stage_follows_rollout_state_only_for_its_version(tmp_path: Path) -> None:
    env = "models/fraud-detector/kserve/production/kustomization.yaml"
    isvc = "models/fraud-detector/kserve/production/stages/full/inferenceservice.yaml"

    def active(where: str, version: str, stage: str, env_name: str = "production") -> tuple[str, bytes]:
        state = {"fraud-detector": {env_name: ActiveStage(version=version, stage=stage)}}
        files = _run(tmp_path / where, _base_spec(), state=state).files()
        return str(yaml.safe_load(files[env])["resources"][-1]), files[isvc]

    first, reference = active("a", "12", "canary-25")
    assert first == "stages/canary-25"
    assert active("b", "11", "full")[0] == "stages/shadow"  # stale: a new version starts over
    assert active("c", "12", "rollback")[0] == "stages/rollback"
    assert active("d", "12", "full", "staging")[0] == "stages/shadow"  # staging has no stages
    # The state is deployment state, not spec: it changes the selection, never the plan digest.
    assert active("e", "12", "full")[1] == reference


def test_gpu_and_protocol_for_huggingface(tmp_path: Path) -> None:
    # support-assistant as an InferenceService (the example serves it on LLMInferenceService).
    spec = yaml.safe_load((SPECS / "support-assistant.yaml").read_text())
    for key in ("kind", "llm"):
        spec["serving"].pop(key)
    spec["serving"]["protocol"] = "v2"
    files = _run(tmp_path, spec).files()
    isvc = yaml.safe_load(files["models/support-assistant/kserve/staging/inferenceservice.yaml"])
    model = isvc["spec"]["predictor"]["model"]
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert model["protocolVersion"] == "v2"
    assert model["modelFormat"] == {"name": "huggingface"}


def test_custom_gpu_type(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["serving"]["resources"] = {"cpu": "2", "memory": "4Gi", "gpu": 2, "gpuType": "amd.com/gpu"}
    result = _run(tmp_path, spec)
    isvc = yaml.safe_load(result.files()["models/fraud-detector/kserve/staging/inferenceservice.yaml"])
    assert isvc["spec"]["predictor"]["model"]["resources"]["limits"]["amd.com/gpu"] == "2"


@pytest.mark.parametrize(("framework", "protocol", "runtime"), [
    ("xgboost", "grpc-v2", "kserve-mlserver"),
    ("tensorflow", "v2", "kserve-tritonserver"),
    ("onnx", None, "kserve-tritonserver"),
    ("pytorch", None, "kserve-torchserve"),
    ("lightgbm", None, "kserve-lgbserver"),
    ("sklearn", "v2", "kserve-sklearnserver"),
])
def test_runtime_chosen_from_framework(tmp_path: Path, framework: str, protocol: str | None, runtime: str) -> None:
    spec = _base_spec()
    spec["model"]["framework"] = framework
    if protocol:
        spec["serving"]["protocol"] = protocol
    result = _run(tmp_path, spec)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    model = yaml.safe_load(result.files()["models/fraud-detector/kserve/staging/inferenceservice.yaml"])
    assert model["spec"]["predictor"]["model"]["runtime"] == runtime
    assert model["spec"]["predictor"]["model"]["modelFormat"]["name"] == framework


# --- KSV rules -----------------------------------------------------------------------------------


def test_ksv001_name_must_start_with_a_letter(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["metadata"]["name"] = "1fraud"
    result = _run(tmp_path, spec)
    diag = _only(result, "KSV001")
    assert diag.path == ("metadata", "name")
    source = (tmp_path / "project" / "specs" / "model.yaml").read_text().splitlines()
    assert source[diag.line - 1].strip() == "name: 1fraud"
    assert not result.ok
    assert result.files() == {}


def test_ksv002_name_with_suffixes_too_long(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["metadata"]["name"] = "f" * 47  # + "-shadow-predictor" = 64
    diag = _only(_run(tmp_path / "a", spec), "KSV002")
    assert diag.path == ("metadata", "name")
    spec["metadata"]["name"] = "f" * 46
    assert "KSV002" not in _codes(_run(tmp_path / "b", spec))


def test_ksv002_standard_canary_predictor_name_too_long(tmp_path: Path) -> None:
    """A Standard-mode canary runs as `<model>-canary-predictor` (KServe v0.20.0), shadow or not."""
    spec = _base_spec()
    del spec["rollout"]["shadow"]
    spec["metadata"]["name"] = "f" * 47  # + "-canary-predictor" = 64
    diag = _only(_run(tmp_path / "a", spec, {"mode": "Standard"}), "KSV002")
    assert "-canary-predictor" in diag.message
    assert "KSV002" not in _codes(_run(tmp_path / "b", spec, {"mode": "Knative"}))


def test_ksv003_min_replicas_above_max(tmp_path: Path) -> None:
    # The core refuses this in the spec (MLS232) before any target runs; the webhook rule still
    # guards plans built another way, so it is tested on a plan directly.
    plan = _run(tmp_path, _base_spec()).specs[0].plan
    assert plan is not None
    env = dataclasses.replace(plan.serving.environments[0], replicas_min=5, replicas_max=2)
    broken = dataclasses.replace(plan, serving=dataclasses.replace(plan.serving, environments=(env,)))
    found = [d for d in check(broken, KServeSettings()) if d.code == "KSV003"]
    assert [d.path for d in found] == [("serving", "environments", "staging", "replicas")]


def test_ksv004_protocol_not_supported(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["model"]["runtime"] = "kserve-xgbserver"
    spec["serving"]["protocol"] = "grpc-v2"
    diag = _only(_run(tmp_path, spec), "KSV004")
    assert diag.path == ("serving", "protocol")


def test_ksv005_runtime_does_not_serve_framework(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["model"]["runtime"] = "kserve-torchserve"
    diag = _only(_run(tmp_path, spec), "KSV005")
    assert diag.path == ("model", "runtime")


def test_ksv006_custom_without_runtime(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["model"]["framework"] = "custom"
    result = _run(tmp_path, spec)
    assert _only(result, "KSV006").path == ("model", "framework")
    spec["model"]["runtime"] = "acme-scorer"
    result = _run(tmp_path / "ok", spec)
    assert result.ok
    isvc = yaml.safe_load(result.files()["models/fraud-detector/kserve/staging/inferenceservice.yaml"])
    model = isvc["spec"]["predictor"]["model"]
    assert (model["runtime"], model["modelFormat"]["name"]) == ("acme-scorer", "custom")
    assert "protocolVersion" not in model  # unknown runtime, nothing requested: it chooses


def test_ksv007_standard_canary_needs_kserve_020(tmp_path: Path) -> None:
    diag = _only(_run(tmp_path / "a", _base_spec(), {"mode": "Standard", "version": "0.19"}), "KSV007")
    assert diag.path == ("rollout", "canary")
    assert diag.is_error
    assert "KSV007" not in _codes(_run(tmp_path / "b", _base_spec(), {"mode": "Knative", "version": "0.19"}))
    assert "KSV007" not in _codes(_run(tmp_path / "c", _base_spec(), {"mode": "Standard", "version": "0.20.1"}))


def test_ksv008_fractional_canary(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["rollout"]["canary"][0]["traffic"] = 2.5
    diag = _only(_run(tmp_path, spec), "KSV008")
    assert diag.path == ("rollout", "canary", 0, "traffic")


def test_ksv009_no_previous_renders_only_full(tmp_path: Path) -> None:
    spec = _base_spec()
    del spec["model"]["previous"]
    result = _run(tmp_path, spec)
    diag = _only(result, "KSV009")
    assert not diag.is_error
    assert diag.path == ("model",)
    stages = {p.split("/")[5] for p in result.files() if "/stages/" in p}
    assert stages == {"full"}


def test_ksv010_standard_mode_hpa_metrics(tmp_path: Path) -> None:
    assert "KSV010" not in _codes(_run(tmp_path / "default", _base_spec()))  # the default metric is cpu
    spec = _base_spec()
    spec["serving"]["autoscaling"] = {"metric": "concurrency", "target": 10}
    result = _run(tmp_path / "a", spec)
    assert sorted(d.path[2] for d in result.diagnostics if d.code == "KSV010") == ["production", "staging"]
    spec = _base_spec()
    spec["serving"]["autoscaling"] = {"metric": "cpu", "target": 70}
    result = _run(tmp_path / "b", spec)
    assert "KSV010" not in _codes(result)
    isvc = yaml.safe_load(result.files()["models/fraud-detector/kserve/staging/inferenceservice.yaml"])
    assert (isvc["spec"]["predictor"]["scaleMetric"], isvc["spec"]["predictor"]["scaleTarget"]) == ("cpu", 70)


def test_ksv011_unknown_active_stage(tmp_path: Path) -> None:
    state = {"fraud-detector": {"production": ActiveStage(version="12", stage="canary-7")}}
    result = _run(tmp_path, _base_spec(), state=state)
    diag = _only(result, "KSV011")
    assert diag.path == ("rollout",)
    assert not diag.is_error
    env = yaml.safe_load(result.files()["models/fraud-detector/kserve/production/kustomization.yaml"])
    assert env["resources"][-1] == "stages/shadow"


def test_active_stage_setting_is_gone(tmp_path: Path) -> None:
    settings = {"activeStage": {"fraud-detector": {"version": "12", "stage": "full"}}}
    assert not _run(tmp_path, _base_spec(), settings).ok


def test_ksv012_utilization_target(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["serving"]["environments"]["production"]["autoscaling"] = {"metric": "cpu", "target": 150}
    diag = _only(_run(tmp_path, spec), "KSV012")
    assert diag.path == ("serving", "environments", "production", "autoscaling", "target")


def test_ksv013_runtime_name_without_prefix(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["model"]["runtime"] = "xgbserver"
    diag = _only(_run(tmp_path, spec), "KSV013")
    assert not diag.is_error


def test_settings_are_validated(tmp_path: Path) -> None:
    result = _run(tmp_path, _base_spec(), {"mode": "Serverless"})
    assert not result.ok
    assert any("mode" in d.to_text() for d in result.diagnostics)


def test_codes_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "kserve.md").read_text()
    for code in TARGET.codes:
        assert code in doc, code


def test_validation_helper_catches_a_typo(tmp_path: Path) -> None:
    files = dict(render_examples(TARGET, specs=[FRAUD]).files())
    path = "models/fraud-detector/kserve/production/stages/canary-5/inferenceservice.yaml"
    files[path] = files[path].replace(b"trafficPercent", b"trafficPercentage")
    with pytest.raises(AssertionError, match="trafficPercentage"):
        _validate(files, tmp_path)


# --- operational correctness: what the cluster does with the stages (issue 11) -------------------

STAGES_DIR = "models/fraud-detector/kserve/production/stages"


def _stage_docs(result: RunResult, stage: str, name: str = "inferenceservice.yaml") -> dict[str, Any]:
    doc = yaml.safe_load(result.files()[f"{STAGES_DIR}/{stage}/{name}"])
    assert isinstance(doc, dict)
    return doc


def _without_traffic(isvc: dict[str, Any]) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(isvc))
    out["spec"]["predictor"].pop("canaryTrafficPercent", None)
    return out


def test_knative_rollback_is_a_traffic_shift(tmp_path: Path) -> None:
    """Knative mode: rollback is `canaryTrafficPercent: 0` on the very object `full` applies, so no
    revision is created (KServe copies the object's labels and annotations into the revision template)
    and traffic moves to the ready previous revision at once."""
    result = _run(tmp_path, _base_spec(), {"mode": "Knative"})
    assert result.ok, [d.to_text() for d in result.diagnostics]
    full = _stage_docs(result, "full")
    rollback = _stage_docs(result, "rollback")
    assert rollback["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert _without_traffic(rollback) == full
    for stage in ("canary-5", "canary-25", "canary-50"):  # same template: a stage change is traffic only
        assert _without_traffic(_stage_docs(result, stage)) == full, stage


def test_standard_rollback_is_the_previous_spec(tmp_path: Path) -> None:
    """Standard mode ignores canaryTrafficPercent: the rollback form names the previous version."""
    result = _run(tmp_path, _base_spec(), {"mode": "Standard"})
    rollback = _stage_docs(result, "rollback")
    assert "canaryTrafficPercent" not in rollback["spec"]["predictor"]
    assert rollback["spec"]["predictor"]["model"]["storageUri"].endswith("/11")
    assert "canary" not in rollback["spec"]


def test_no_inference_service_carries_a_per_stage_value(tmp_path: Path) -> None:
    """A per-stage annotation or label would restart the pods at every stage (Standard) or create a
    revision (Knative): objects serving the same thing are identical across stages."""
    for mode in ("Standard", "Knative"):
        result = _run(tmp_path / mode, _base_spec(), {"mode": mode})
        for path, doc in _docs(result.files()):
            if doc["kind"] == "InferenceService":
                assert "mlspec.dev/rollout-stage" not in doc["metadata"]["annotations"], path
    result = _run(tmp_path / "s", _base_spec(), {"mode": "Standard"})
    assert _stage_docs(result, "shadow") == _stage_docs(result, "rollback")


def _version(meta: Mapping[str, Any]) -> str:
    labels = meta["labels"]
    assert labels["app.kubernetes.io/version"] == labels["mlspec.dev/model-version"]
    return str(labels["mlspec.dev/model-version"])


def test_pods_are_labelled_with_the_version_they_serve(tmp_path: Path) -> None:
    """KServe copies the InferenceService's labels, and a predictor's own `labels` over them, onto the
    pods: each must name the version that predictor runs, and only the new version has known lineage."""
    result = _run(tmp_path, _base_spec(), {"mode": "Standard"})
    primary = _stage_docs(result, "shadow")
    shadow = _stage_docs(result, "shadow", "shadow-inferenceservice.yaml")
    assert (_version(primary["metadata"]), primary["spec"]["predictor"]["model"]["storageUri"]) == (
        "11", "s3://models/fraud-detector/11")
    assert "mlspec.dev/data-hash" not in primary["metadata"]["labels"]
    assert _version(shadow["metadata"]) == "12"
    assert shadow["metadata"]["labels"]["mlspec.dev/data-hash"]
    canary = _stage_docs(result, "canary-25")
    assert _version(canary["metadata"]) == "11"  # spec.predictor, the stable side
    [entry] = canary["spec"]["canary"]
    assert entry["predictor"]["model"]["storageUri"].endswith("/12")
    assert _version(entry["predictor"]) == "12"  # wins over the object's labels on the canary's pods
    assert _version(_stage_docs(result, "rollback")["metadata"]) == "11"
    assert _version(_stage_docs(result, "full")["metadata"]) == "12"


def test_standard_canaries_pass_kserve_canary_webhook(tmp_path: Path) -> None:
    """validateCanarySpecs (KServe v0.20.0) is no part of the CRD schema; every rendered canary obeys it."""
    checked = 0
    for autoscaling in ({"metric": "cpu", "target": 70}, {"metric": "memory", "target": 60}):
        spec = _base_spec()
        spec["serving"]["autoscaling"] = autoscaling
        result = _run(tmp_path / autoscaling["metric"], spec, {"mode": "Standard"})
        for path, doc in _docs(result.files()):
            if doc["kind"] == "InferenceService" and doc["spec"].get("canary"):
                assert canary_webhook_errors(doc) == [], path
                checked += 1
    assert checked == 6


def test_shadow_serves_the_primarys_model_name(tmp_path: Path) -> None:
    """The mirror keeps the path /v1/models/<model>:predict: the shadow's server gets `--model_name`
    (appended after the runtime's `--model_name={{.Name}}`), MLServer gets MLSERVER_MODEL_NAME."""
    spec = _base_spec()
    result = _run(tmp_path / "xgb", spec, {"mirroring": "gateway-api"})
    shadow = _stage_docs(result, "shadow", "shadow-inferenceservice.yaml")
    assert shadow["spec"]["predictor"]["model"]["args"] == ["--model_name=fraud-detector"]
    route = _stage_docs(result, "shadow", "httproute.yaml")
    mirror = route["spec"]["rules"][0]["filters"][0]["requestMirror"]["backendRef"]["name"]
    assert mirror == "fraud-detector-shadow-predictor"
    spec["serving"]["protocol"] = "grpc-v2"  # xgboost over gRPC v2 runs on MLServer
    result = _run(tmp_path / "mlserver", spec)
    model = _stage_docs(result, "shadow", "shadow-inferenceservice.yaml")["spec"]["predictor"]["model"]
    assert model["runtime"] == "kserve-mlserver"
    assert model["env"] == [{"name": "MLSERVER_MODEL_NAME", "value": "fraud-detector"}]
    assert "args" not in model


def test_ksv020_shadow_on_an_unknown_runtime(tmp_path: Path) -> None:
    spec = _base_spec()
    spec["model"]["runtime"] = "acme-xgb"
    diag = _only(_run(tmp_path / "a", spec), "KSV020")
    assert not diag.is_error
    assert diag.path == ("rollout", "shadow")
    del spec["rollout"]["shadow"]
    assert "KSV020" not in _codes(_run(tmp_path / "b", spec))


def test_mirror_host_follows_the_domain_template(tmp_path: Path) -> None:
    result = _run(tmp_path / "a", _base_spec(), {"domain": "ml.acme.io"})
    assert _stage_docs(result, "shadow", "virtualservice.yaml")["spec"]["hosts"] == [
        "fraud-detector-risk-prod.ml.acme.io"]
    result = _run(tmp_path / "b", _base_spec(),
                  {"domain": "ml.acme.io", "domainTemplate": "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"})
    assert _stage_docs(result, "shadow", "virtualservice.yaml")["spec"]["hosts"] == [
        "fraud-detector.risk-prod.ml.acme.io"]
    result = _run(tmp_path / "c", _base_spec(), {"domainTemplate": "{{ .Annotations.host }}"})
    assert not result.ok


def test_streaming_consumer_group_per_environment() -> None:
    files = render_examples(TARGET).files()
    groups = {d["metadata"]["namespace"]: d["spec"]["consumerGroup"]
              for _, d in _docs(files) if (d["apiVersion"], d["kind"]) == KAFKA_SOURCE}
    assert len(groups) >= 2
    assert len(set(groups.values())) == len(groups), groups


def test_cli_validate_judges_kafka_source_by_its_crd(tmp_path: Path) -> None:
    """`mlspec validate DIR --crds` (the CLI path, not only the library) accepts the rendered
    KafkaSource and refuses a misspelled field in it, at that file."""
    from click.testing import CliRunner

    from compiler.cli import cli

    crds = require_crds()
    files = dict(render_examples(TARGET).files())
    out = _write(files, tmp_path / "ok")
    result = CliRunner().invoke(cli, ["validate", str(out), "--crds", str(crds)])
    assert result.exit_code == 0, result.output
    path = next(p for p, d in _docs(files) if (d["apiVersion"], d["kind"]) == KAFKA_SOURCE)
    doc = yaml.safe_load(files[path])
    doc["spec"]["consumerGroups"] = doc["spec"].pop("consumerGroup")
    files[path] = yaml.safe_dump(doc).encode()
    result = CliRunner().invoke(cli, ["validate", str(_write(files, tmp_path / "bad")), "--crds", str(crds)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(path), result.output
    assert "VAL002" not in result.output


def test_pod_regexes_tell_the_predictors_apart() -> None:
    """compiler.planning.serving_names's selectors for the prometheus side: with one `model_name` for every predictor,
    the pod name (KServe: Deployment or Knative revision `<isvc>-[<name>-]predictor...`) tells them apart."""
    import re

    from compiler.planning import serving_names

    plan = render_examples(TARGET, specs=[FRAUD]).specs[0].plan
    assert plan is not None
    primary = serving_names.predictor_pod_regex(plan.name)
    shadow = serving_names.shadow_pod_regex(plan)
    canary = serving_names.predictor_pod_regex(plan.name, serving_names.CANARY_PREDICTOR)
    pods = {"fraud-detector-predictor-7d9f8c6b5-x2x9q": primary,  # Standard: Deployment's ReplicaSet pod
            "fraud-detector-predictor-00003-deployment-6c8d9f7b4-kq2lm": primary,  # Knative revision pod
            "fraud-detector-shadow-predictor-5b7c9d8f6-p4r7t": shadow,
            "fraud-detector-canary-predictor-66f7d8c9b-z8w2n": canary}
    for pod, own in pods.items():
        assert [r for r in (primary, shadow, canary) if re.fullmatch(r, pod)] == [own], pod
    assert serving_names.served_model_name(plan) == "fraud-detector"
