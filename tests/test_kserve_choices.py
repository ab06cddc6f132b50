"""Issue 16: per-model KServe choices (`serving.kserve`), LLMs on KServe's LLMInferenceService
(`serving.kind: llm`), and streaming completeness (output topic, Kafka TLS/SASL by Secret reference).
Rendered objects are judged by the upstream CRDs made strict (compiler.validation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from tools import require_crds

from compiler.diagnostics import Diagnostic
from compiler.pipeline import RunResult, run
from compiler.validation import validate_tree
from golden import SPECS, registry_of, render_examples
from targets.kserve import KServeTarget

TARGET = KServeTarget()
LLM_KEY = ("serving.kserve.io/v1alpha2", "LLMInferenceService")
KAFKA_SOURCE = ("sources.knative.dev/v1beta1", "KafkaSource")
ASSISTANT = "models/support-assistant/kserve"
PROMPT_SHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
MODE = "serving.kserve.io/deploymentMode"


def _spec(name: str) -> dict[str, Any]:
    data = yaml.safe_load((SPECS / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _run(tmp_path: Path, specs: Mapping[str, Mapping[str, Any]], settings: Mapping[str, Any] | None = None,
         *, render: bool = True) -> RunResult:
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True, exist_ok=True)
    if settings is not None:
        project = {"apiVersion": "mlspec/v1", "kind": "Project", "targets": {"kserve": dict(settings)}}
        (root / "mlspec.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    for name, spec in specs.items():
        (root / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(dict(spec), sort_keys=False))
    return run([root / "specs"], root=root, render=render, registry=registry_of(TARGET), jobs=1)


def _docs(files: Mapping[str, bytes]) -> list[tuple[str, dict[str, Any]]]:
    return [(p, d) for p, data in sorted(files.items()) for d in yaml.safe_load_all(data) if d is not None]


def _write(files: Mapping[str, bytes], root: Path) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _strict(files: Mapping[str, bytes], root: Path) -> None:
    diags = validate_tree(_write(files, root), require_crds())
    assert not diags, "\n".join(d.to_text() for d in diags)


def _find(result: RunResult, code: str) -> Diagnostic:
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [d.to_text() for d in result.diagnostics]
    return found[0]


def _codes(result: RunResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# --- 1. per-model serving choices ------------------------------------------------------------------


def test_two_models_two_modes_in_one_repository(tmp_path: Path) -> None:
    """The project says Standard; one spec keeps it, the other chooses Knative for itself."""
    standard = _spec("fraud-detector")
    standard["serving"].pop("kserve")
    knative = _spec("fraud-detector")
    knative["metadata"]["name"] = "ranker"
    knative["serving"]["kserve"] = {"mode": "Knative", "mirroring": "gateway-api"}
    knative["serving"]["autoscaling"] = {"metric": "concurrency", "target": 10}
    result = _run(tmp_path, {"fraud": standard, "ranker": knative}, {"mode": "Standard", "version": "0.20"})
    assert result.ok, [d.to_text() for d in result.diagnostics]
    assert "KSV010" not in _codes(result)  # concurrency is fine in the model's own Knative mode
    files = result.files()
    fraud = yaml.safe_load(files["models/fraud-detector/kserve/production/stages/canary-25/inferenceservice.yaml"])
    ranker = yaml.safe_load(files["models/ranker/kserve/production/stages/canary-25/inferenceservice.yaml"])
    assert fraud["metadata"]["annotations"][MODE] == "Standard"
    assert fraud["spec"]["canary"][0]["trafficPercent"] == 25
    assert ranker["metadata"]["annotations"][MODE] == "Knative"
    assert ranker["spec"]["predictor"]["canaryTrafficPercent"] == 25
    assert "canary" not in ranker["spec"]
    assert "models/ranker/kserve/production/stages/shadow/httproute.yaml" in files
    assert "models/fraud-detector/kserve/production/stages/shadow/virtualservice.yaml" in files
    _strict(files, tmp_path / "out")


def test_examples_hold_standard_and_knative_models() -> None:
    modes = {d["metadata"]["name"]: d["metadata"]["annotations"][MODE]
             for _, d in _docs(render_examples(TARGET).files()) if d["kind"] == "InferenceService"}
    assert modes["fraud-detector"] == "Standard"
    assert modes["txn-anomaly"] == "Knative"


def test_ksv007_on_the_models_own_old_version(tmp_path: Path) -> None:
    """The project's KServe has spec.canary; this model's cluster does not."""
    spec = _spec("fraud-detector")
    spec["serving"]["kserve"] = {"version": "0.19", "mode": "Standard"}
    diag = _find(_run(tmp_path, {"m": spec}, {"version": "0.20"}, render=False), "KSV007")
    assert "0.19" in diag.message
    assert diag.hint is not None
    assert "serving.kserve" in diag.hint
    assert diag.line is not None


def test_ksv010_knative_only_metric_in_the_models_standard_mode(tmp_path: Path) -> None:
    spec = _spec("fraud-detector")
    spec["serving"]["kserve"] = {"mode": "Standard"}
    spec["serving"]["autoscaling"] = {"metric": "rps", "target": 50}
    result = _run(tmp_path, {"m": spec}, {"mode": "Knative"}, render=False)
    assert "KSV010" in _codes(result)


def test_override_values_are_validated_with_positions(tmp_path: Path) -> None:
    spec = _spec("fraud-detector")
    spec["serving"]["kserve"] = {"mode": "Serverless", "version": "v0.20"}
    result = _run(tmp_path, {"m": spec}, render=False)
    assert not result.ok
    paths = {".".join(map(str, d.path)) for d in result.diagnostics}
    assert {"serving.kserve.mode", "serving.kserve.version"} <= paths, paths
    assert all(d.line is not None for d in result.diagnostics)


# --- 2. LLMInferenceService ------------------------------------------------------------------------


def _assistant_files() -> dict[str, bytes]:
    return dict(render_examples(TARGET, specs=[SPECS / "support-assistant.yaml"]).files())


def test_support_assistant_is_an_llm_inference_service(tmp_path: Path) -> None:
    files = _assistant_files()
    kinds = {(d["apiVersion"], d["kind"]) for _, d in _docs(files)}
    assert LLM_KEY in kinds
    assert ("serving.kserve.io/v1beta1", "InferenceService") not in kinds
    _strict(files, tmp_path)


def test_llm_canary_is_a_weighted_route_group() -> None:
    files = _assistant_files()
    stage = f"{ASSISTANT}/production/stages/canary-30"
    stable = yaml.safe_load(files[f"{stage}/llminferenceservice.yaml"])
    canary = yaml.safe_load(files[f"{stage}/canary-llminferenceservice.yaml"])
    assert yaml.safe_load(files[f"{stage}/kustomization.yaml"])["resources"] == [
        "llminferenceservice.yaml", "canary-llminferenceservice.yaml"]
    assert stable["metadata"]["name"] == "support-assistant"
    assert canary["metadata"]["name"] == "support-assistant-canary"
    assert stable["spec"]["model"]["uri"].endswith("/2026.09.3")
    assert canary["spec"]["model"]["uri"].endswith("/2026.10.1")
    # Members of one group must serve one model name, else KServe splits them into sub-groups.
    assert stable["spec"]["model"]["name"] == canary["spec"]["model"]["name"] == "support-assistant"
    routes = [stable["spec"]["router"]["route"], canary["spec"]["router"]["route"]]
    assert {r["group"] for r in routes} == {"support-assistant"}
    assert [r["weight"] for r in routes] == [70, 30]
    # The canary's share of the pods, not a second full copy of the GPUs: ceil(4 x 30 / 100).
    assert (stable["spec"]["replicas"], canary["spec"]["replicas"]) == (4, 2)
    assert stable["metadata"]["labels"]["mlspec.dev/model-version"] == "2026.09.3"
    assert canary["metadata"]["labels"]["mlspec.dev/model-version"] == "2026.10.1"
    assert "serving.kserve.io/deploymentMode" not in stable["metadata"]["annotations"]


def test_llm_full_rollback_and_stages() -> None:
    files = _assistant_files()
    base = f"{ASSISTANT}/production"
    stages = sorted({p.split("/")[5] for p in files if p.startswith(f"{base}/stages/")})
    assert stages == ["canary-10", "canary-30", "canary-60", "full", "rollback"]
    full = yaml.safe_load(files[f"{base}/stages/full/llminferenceservice.yaml"])
    rollback = yaml.safe_load(files[f"{base}/stages/rollback/llminferenceservice.yaml"])
    assert full["spec"]["model"]["uri"].endswith("/2026.10.1")
    assert rollback["spec"]["model"]["uri"].endswith("/2026.09.3")
    assert full["spec"]["router"]["route"]["weight"] == rollback["spec"]["router"]["route"]["weight"] == 100
    staging = yaml.safe_load(files[f"{ASSISTANT}/staging/llminferenceservice.yaml"])
    assert "group" not in staging["spec"]["router"]["route"]
    assert staging["spec"]["replicas"] == 1
    assert full["spec"]["replicas"] == 4
    container = full["spec"]["template"]["containers"][0]
    assert container["name"] == "main"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert full["spec"]["router"]["scheduler"] == {}


def test_prompt_pin_is_passed_to_the_server() -> None:
    for path, doc in _docs(_assistant_files()):
        if (doc["apiVersion"], doc["kind"]) != LLM_KEY:
            continue
        env = {e["name"]: e["value"] for e in doc["spec"]["template"]["containers"][0]["env"]}
        assert env == {"MLSPEC_PROMPT_PATH": "prompts/draft-reply.jinja", "MLSPEC_PROMPT_SHA256": PROMPT_SHA}, path


def test_prompt_pin_on_an_inference_service_predictor(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"].pop("kind")
    spec["serving"].pop("llm")
    result = _run(tmp_path, {"m": spec})
    isvc = yaml.safe_load(result.files()["models/support-assistant/kserve/staging/inferenceservice.yaml"])
    env = {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["model"]["env"]}
    assert env["MLSPEC_PROMPT_SHA256"] == PROMPT_SHA


def test_llm_strict_crd_catches_a_typo(tmp_path: Path) -> None:
    files = _assistant_files()
    path = f"{ASSISTANT}/staging/llminferenceservice.yaml"
    doc = yaml.safe_load(files[path])
    doc["spec"]["router"]["route"]["wieght"] = 5
    files[path] = yaml.safe_dump(doc).encode()
    diags = validate_tree(_write(files, tmp_path), require_crds())
    assert [d.file for d in diags] == [path], [d.to_text() for d in diags]


def test_llm_prefill_and_configs_pass_the_crd(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["llm"] = {"scheduler": False, "prefillReplicas": 2, "configs": ["llmisvc-config-pd-disagg"]}
    result = _run(tmp_path, {"m": spec})
    assert result.ok, [d.to_text() for d in result.diagnostics]
    doc = yaml.safe_load(result.files()[f"{ASSISTANT}/staging/llminferenceservice.yaml"])
    assert doc["spec"]["prefill"]["replicas"] == 2
    assert doc["spec"]["baseRefs"] == [{"name": "llmisvc-config-pd-disagg"}]
    assert "scheduler" not in doc["spec"]["router"]
    _strict(result.files(), tmp_path / "out")


def test_plan_names_the_engine_and_the_daily_budget() -> None:
    result = render_examples(TARGET, specs=[SPECS / "support-assistant.yaml", SPECS / "fraud-detector.yaml"])
    plans = {s.plan.name: s.plan for s in result.specs if s.plan is not None}
    assert plans["support-assistant"].serving.engine == "vllm"
    assert plans["support-assistant"].serving.kind == "llm"
    assert plans["fraud-detector"].serving.engine is None
    assert plans["support-assistant"].monitor("token-spend").max_cost_per_day == 250


def test_mls710_daily_budget_below_one_request(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spend = next(m for m in spec["monitors"] if m["name"] == "token-spend")
    spend["maxPerDay"] = 0.001
    diag = _find(_run(tmp_path, {"m": spec}, render=False), "MLS710")
    assert diag.line is not None
    assert diag.path == ("monitors", 2, "maxPerDay")


def test_ksv040_llm_needs_huggingface(tmp_path: Path) -> None:
    spec = _spec("fraud-detector")
    spec["serving"]["kind"] = "llm"
    spec["rollout"].pop("shadow")
    diag = _find(_run(tmp_path, {"m": spec}, render=False), "KSV040")
    assert diag.path == ("serving", "kind")
    assert diag.line is not None


def test_ksv041_llm_cannot_shadow(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["rollout"]["shadow"] = {"duration": "1h"}
    result = _run(tmp_path, {"m": spec})
    diag = _find(result, "KSV041")
    assert diag.path == ("rollout", "shadow")
    assert diag.line is not None
    assert not result.ok


def test_ksv042_llm_needs_kserve_020(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["kserve"] = {"version": "0.19"}
    assert "KSV042" in _codes(_run(tmp_path, {"m": spec}, render=False))


def test_ksv043_mode_on_an_llm_is_ignored(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["kserve"] = {"mode": "Knative"}
    result = _run(tmp_path, {"m": spec})
    assert _find(result, "KSV043").path == ("serving", "kserve", "mode")
    assert result.ok


def test_ksv043_protocol_and_runtime_on_an_llm_are_ignored(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["protocol"] = "v2"
    spec["model"]["runtime"] = "kserve-huggingfaceserver"
    result = _run(tmp_path, {"m": spec}, render=False)
    paths = sorted(d.path for d in result.diagnostics if d.code == "KSV043")
    assert paths == [("model", "runtime"), ("serving", "protocol")]
    assert all(d.line is not None for d in result.diagnostics)


def test_ksv044_llm_autoscaling_range(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["environments"]["production"]["replicas"] = {"min": 2, "max": 8}
    result = _run(tmp_path, {"m": spec})
    assert _find(result, "KSV044").path == ("serving", "environments", "production")
    doc = yaml.safe_load(result.files()[f"{ASSISTANT}/production/stages/full/llminferenceservice.yaml"])
    assert doc["spec"]["replicas"] == 2
    assert "scaling" not in doc["spec"]


def test_ksv045_llm_options_without_llm_kind(tmp_path: Path) -> None:
    spec = _spec("fraud-detector")
    spec["serving"]["llm"] = {"scheduler": True}
    assert _find(_run(tmp_path, {"m": spec}, render=False), "KSV045").path == ("serving", "llm")


def test_ksv046_llm_payload_logging(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["payloadLogging"] = True
    assert _find(_run(tmp_path, {"m": spec}, render=False), "KSV046").path == ("serving", "payloadLogging")


def test_ksv047_llm_streaming(tmp_path: Path) -> None:
    spec = _spec("support-assistant")
    spec["serving"]["pattern"] = "streaming"
    spec["serving"]["stream"] = {"bootstrapServers": ["kafka:9092"], "topic": "tickets"}
    assert "KSV047" in _codes(_run(tmp_path, {"m": spec}, render=False))


# --- 3. streaming --------------------------------------------------------------------------------


def _source(files: Mapping[str, bytes]) -> tuple[str, dict[str, Any]]:
    return next((p, d) for p, d in _docs(files) if (d["apiVersion"], d["kind"]) == KAFKA_SOURCE)


def test_kafka_tls_and_sasl_by_secret_reference(tmp_path: Path) -> None:
    files = dict(render_examples(TARGET, specs=[SPECS / "txn-anomaly.yaml"]).files())
    _, source = _source(files)
    assert source["spec"]["net"] == {
        "sasl": {"enable": True, "user": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "user"}},
                 "password": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "password"}},
                 "type": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "saslType"}}},
        "tls": {"enable": True, "caCert": {"secretKeyRef": {"name": "kafka-ca", "key": "ca.crt"}}}}
    _strict(files, tmp_path / "ok")
    # The upstream KafkaSource CRD judges the net block: a misspelled key is refused.
    path, doc = _source(files)
    doc["spec"]["net"]["tls"]["caCertificate"] = doc["spec"]["net"]["tls"].pop("caCert")
    files[path] = yaml.safe_dump(doc).encode()
    diags = validate_tree(_write(files, tmp_path / "bad"), require_crds())
    assert [d.file for d in diags] == [path], [d.to_text() for d in diags]


def test_output_topic_reaches_the_primary_only(tmp_path: Path) -> None:
    spec = _spec("txn-anomaly")
    spec["rollout"]["shadow"] = {"duration": "1h"}
    result = _run(tmp_path, {"m": spec})
    assert result.ok, [d.to_text() for d in result.diagnostics]
    files = result.files()
    stage = "models/txn-anomaly/kserve/production/stages/shadow"
    primary = yaml.safe_load(files[f"{stage}/inferenceservice.yaml"])
    shadow = yaml.safe_load(files[f"{stage}/shadow-inferenceservice.yaml"])
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in primary["spec"]["predictor"]["model"]["env"]}
    # The producer gets the source's credentials by Secret key reference, never a value.
    assert env == {"MLSPEC_OUTPUT_TOPIC": "payments.anomaly-scores.v1",
                   "MLSPEC_KAFKA_BOOTSTRAP_SERVERS": "kafka-0.kafka.svc:9092,kafka-1.kafka.svc:9092",
                   "MLSPEC_KAFKA_SASL_USER": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "user"}},
                   "MLSPEC_KAFKA_SASL_PASSWORD": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "password"}},
                   "MLSPEC_KAFKA_SASL_MECHANISM": {"secretKeyRef": {"name": "kafka-txn-anomaly", "key": "saslType"}},
                   "MLSPEC_KAFKA_TLS_CA_CERT": {"secretKeyRef": {"name": "kafka-ca", "key": "ca.crt"}}}
    assert "MLSPEC_OUTPUT_TOPIC" not in str(shadow["spec"]["predictor"]["model"].get("env", []))
    _strict(files, tmp_path / "out")


def test_ksv048_mutual_tls_needs_cert_and_key(tmp_path: Path) -> None:
    spec = _spec("txn-anomaly")
    spec["serving"]["stream"]["tls"] = {"cert": {"name": "kafka-client", "key": "tls.crt"}}
    diag = _find(_run(tmp_path, {"m": spec}, render=False), "KSV048")
    assert diag.path == ("serving", "stream", "tls")
    assert "key" in diag.message


def test_kafka_secret_refs_are_names_not_values(tmp_path: Path) -> None:
    spec = _spec("txn-anomaly")
    spec["serving"]["stream"]["sasl"]["password"] = "hunter2"
    result = _run(tmp_path, {"m": spec}, render=False)
    assert not result.ok
    assert any(d.path[:4] == ("serving", "stream", "sasl", "password") for d in result.diagnostics)


def test_llm_pod_regex_tells_the_workloads_apart() -> None:
    """compiler.planning.serving_names's selector for vLLM series of one member: KServe's Deployments are
    `<llmisvc>-kserve` (decode) and `<llmisvc>-kserve-prefill`; pods add the ReplicaSet hash and a suffix."""
    import re

    from compiler.planning import serving_names

    plan = render_examples(TARGET, specs=[SPECS / "support-assistant.yaml"]).specs[0].plan
    assert plan is not None
    stable = serving_names.llm_pod_regex(plan.name)
    canary = serving_names.llm_pod_regex(serving_names.llm_canary_name(plan))
    pods = {"support-assistant-kserve-6d8f9c7b5-x2x9q": stable,
            "support-assistant-canary-kserve-5b7c9d8f6-p4r7t": canary,
            "support-assistant-kserve-prefill-7c9d8f6b5-z8w2n": None}
    for pod, own in pods.items():
        assert [r for r in (stable, canary) if re.fullmatch(r, pod)] == ([own] if own else []), pod
