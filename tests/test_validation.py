"""The validation layer, judged against real CRDs, kubernetes-validate, the kfp protobufs and the real
command-line tools, on small hand-written manifests."""

from __future__ import annotations

import copy
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tools import DATA, require_crds, require_module, require_tool, run_tool

from compiler.diagnostics import Diagnostic, dotted
from compiler.validation import (
    classify,
    load_crds,
    strict_schema,
    validate_file,
    validate_pipeline,
    validate_tree,
)

INFERENCE_SERVICE = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: fraud-detector
  namespace: ml-prod
  labels:
    app.kubernetes.io/name: fraud-detector
  annotations:
    serving.kserve.io/deploymentMode: Standard
spec:
  predictor:
    minReplicas: 2
    maxReplicas: 5
    scaleMetric: cpu
    scaleTarget: 70
    model:
      modelFormat:
        name: sklearn
      protocolVersion: v2
      runtime: kserve-sklearnserver
      storageUri: s3://models/fraud/12
      resources:
        requests: {cpu: "1", memory: 2Gi}
        limits: {cpu: 2, memory: 4Gi}
"""

VIRTUAL_SERVICE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: fraud-detector-shadow
  namespace: ml-prod
spec:
  hosts: [fraud-detector.ml-prod.svc.cluster.local]
  http:
  - route:
    - destination:
        host: fraud-detector-predictor.ml-prod.svc.cluster.local
        port: {number: 80}
    mirror:
      host: fraud-detector-shadow-predictor.ml-prod.svc.cluster.local
      port: {number: 80}
    mirrorPercentage:
      value: 10.0
"""

HTTP_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: fraud-detector-shadow
  namespace: ml-prod
spec:
  parentRefs:
  - name: ml-gateway
    namespace: gateway-system
  hostnames: [fraud.ml.example]
  rules:
  - backendRefs:
    - name: fraud-detector-predictor
      port: 80
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: fraud-detector-shadow-predictor
          port: 80
        percent: 10
"""

PROMETHEUS_RULE = """
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: fraud-detector
  namespace: ml-prod
  labels: {release: kube-prometheus-stack}
spec:
  groups:
  - name: fraud-detector.rules
    interval: 1m
    partial_response_strategy: warn
    rules:
    - alert: FraudDetectorHighErrorRate
      expr: sum(rate(request_count{model="fraud", code=~"5.."}[5m])) > 0.05
      for: 10m
      keep_firing_for: 5m
      labels: {severity: critical, team: risk}
      annotations: {summary: errors, runbook_url: https://runbooks.example/fraud}
"""

PIPELINE = """
apiVersion: pipelines.kubeflow.org/v2beta1
kind: Pipeline
metadata:
  name: fraud-train
  namespace: kubeflow
spec:
  displayName: Fraud training
  description: Trains the fraud model.
"""

SERVICE_ACCOUNT = """
apiVersion: v1
kind: ServiceAccount
metadata:
  name: fraud-train-runner
  namespace: kubeflow
automountServiceAccountToken: false
"""

CRON_JOB = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: fraud-train-schedule
  namespace: kubeflow
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          serviceAccountName: fraud-train-runner
          restartPolicy: Never
          containers:
          - name: trigger
            image: python:3.11
            command: [python, -m, trigger]
            resources:
              limits: {cpu: 500m, memory: 256Mi}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def check(tmp_path: Path, text: str, name: str = "manifest.yaml", crds: bool = True) -> list[Diagnostic]:
    write(tmp_path, name, text)
    return validate_tree(tmp_path, require_crds() if crds else None)


def paths(diags: list[Diagnostic]) -> list[tuple[str, str]]:
    return [(d.code, dotted(d.path)) for d in diags]


# --- custom resources against the CRDs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [INFERENCE_SERVICE, VIRTUAL_SERVICE, HTTP_ROUTE, PROMETHEUS_RULE, PIPELINE],
    ids=lambda t: t.split()[3],
)
def test_valid_custom_resources_pass(tmp_path: Path, text: str) -> None:
    assert check(tmp_path, text) == []


def test_typo_in_inference_service_fails_at_the_key(tmp_path: Path) -> None:
    diags = check(tmp_path, INFERENCE_SERVICE.replace("storageUri:", "storageUrl:"))
    assert paths(diags) == [("VAL001", "spec.predictor.model.storageUrl")]
    assert diags[0].file == "manifest.yaml"
    assert "document 0 (InferenceService/fraud-detector)" in diags[0].message
    assert "unknown field 'storageUrl'" in diags[0].message


def test_all_errors_are_reported_with_their_paths(tmp_path: Path) -> None:
    text = (
        INFERENCE_SERVICE.replace("minReplicas: 2", "minReplicas: two")
        .replace("scaleMetric: cpu", "scaleMetric: gpu")
        .replace("runtime:", "runtimee:")
    )
    assert sorted(paths(check(tmp_path, text))) == [
        ("VAL001", "spec.predictor.minReplicas"),
        ("VAL001", "spec.predictor.model.runtimee"),
        ("VAL001", "spec.predictor.scaleMetric"),
    ]


def test_int_or_string_accepts_both(tmp_path: Path) -> None:
    # resources quantities are x-kubernetes-int-or-string: `cpu: 2` and `cpu: "1"` above both pass,
    # but a list is neither.
    diags = check(tmp_path, INFERENCE_SERVICE.replace("limits: {cpu: 2,", "limits: {cpu: [2],"))
    assert paths(diags) == [("VAL001", "spec.predictor.model.resources.limits.cpu")]


def test_istio_typo_and_nullable_fields(tmp_path: Path) -> None:
    assert check(tmp_path, VIRTUAL_SERVICE.replace("mirrorPercentage:", "mirrorPercentag:")) != []
    # Istio marks some fields nullable (OpenAPI 3.0); null must be accepted there, as the API server does.
    retries = "    retries: {attempts: 3, retryIgnorePreviousHosts: null}\n"
    nullable = VIRTUAL_SERVICE.replace("    mirrorPercentage:", retries + "    mirrorPercentage:")
    assert check(tmp_path, nullable) == []


def test_http_route_experimental_field_fails(tmp_path: Path) -> None:
    # The CRD is the standard channel: a field it does not know is reported, not pruned.
    diags = check(tmp_path, HTTP_ROUTE.replace("percent: 10", "percent: 10\n        bogus: 1"))
    assert paths(diags) == [("VAL001", "spec.rules[0].filters[0].requestMirror.bogus")]


def test_prometheus_rule_go_regex_pattern_is_applied(tmp_path: Path) -> None:
    # The CRD's pattern `^(?i)(abort|warn)?$` is Go syntax; it must still be checked, case-insensitively.
    assert check(tmp_path, PROMETHEUS_RULE.replace("strategy: warn", "strategy: WARN")) == []
    diags = check(tmp_path, PROMETHEUS_RULE.replace("strategy: warn", "strategy: ignore"))
    assert paths(diags) == [("VAL001", "spec.groups[0].partial_response_strategy")]


def test_pipeline_version_embeds_a_checked_pipeline(tmp_path: Path) -> None:
    ir, platform = yaml.safe_load_all((DATA / "kfp_pipeline.yaml").read_text())
    version = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "PipelineVersion",
        "metadata": {"name": "fraud-train-3f9c2e1", "namespace": "kubeflow"},
        "spec": {"pipelineName": "fraud-train", "pipelineSpec": ir, "platformSpec": platform},
    }
    assert check(tmp_path, yaml.safe_dump(version)) == []
    ir["root"]["dag"]["tasks"]["train"]["componentRef"]["name"] = "comp-nope"
    diags = check(tmp_path, yaml.safe_dump(version))
    assert paths(diags) == [("VAL003", "spec.pipelineSpec.root.dag.tasks.train.componentRef.name")]


def test_metadata_rules(tmp_path: Path) -> None:
    text = INFERENCE_SERVICE.replace("name: fraud-detector\n", "name: Fraud_Detector\n", 1)
    text = text.replace("app.kubernetes.io/name: fraud-detector", "enabled: yes\n    namez: x")
    diags = check(tmp_path, text.replace("  labels:", "  labelz: {}\n  labels:"))
    assert sorted(paths(diags)) == [
        ("VAL005", "metadata.labels.enabled"),  # YAML 1.1 `yes` is a boolean, not a string
        ("VAL005", "metadata.labelz"),
        ("VAL005", "metadata.name"),
    ]


def test_missing_name_is_reported(tmp_path: Path) -> None:
    diags = check(tmp_path, PIPELINE.replace("  name: fraud-train\n", ""))
    assert paths(diags) == [("VAL005", "metadata")]


def test_unknown_kind_and_missing_crds(tmp_path: Path) -> None:
    diags = check(tmp_path, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert paths(diags) == [("VAL002", "<root>")]
    # Without a CRD folder a custom resource cannot be judged, and that is an error, not a pass.
    (tmp_path / "manifest.yaml").unlink()
    diags = check(tmp_path, INFERENCE_SERVICE, crds=False)
    assert [d.code for d in diags] == ["VAL002"]
    assert "--crds" in str(diags[0].hint)


def test_strict_schema_leaves_open_objects_open() -> None:
    crd_schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "free": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {},
                    },
                    "map": {"type": "object", "additionalProperties": {"type": "string"}},
                    "size": {"x-kubernetes-int-or-string": True},
                    "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                    "pick": {"type": "object", "properties": {"a": {}}, "oneOf": [{"properties": {"a": {}}}]},
                },
            }
        },
    }
    schema = strict_schema(crd_schema)
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["free"]
    assert spec["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert spec["properties"]["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["ratio"] == {"type": "number", "exclusiveMinimum": 0}
    assert "additionalProperties" not in spec["properties"]["pick"]["oneOf"][0]
    assert set(schema["properties"]) == {"spec", "apiVersion", "kind", "metadata"}
    assert "additionalProperties" not in crd_schema["properties"]["spec"]  # the input is not modified


def test_crd_index_is_cached_and_covers_served_versions() -> None:
    first = load_crds(require_crds())
    assert load_crds(require_crds()) is first
    for api_version, kind in [
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("networking.istio.io/v1alpha3", "VirtualService"),
        ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
        ("pipelines.kubeflow.org/v2beta1", "PipelineVersion"),
        ("argoproj.io/v1alpha1", "Application"),
    ]:
        assert first.knows(api_version, kind)
    assert first.problems == []


def test_missing_or_empty_tree(tmp_path: Path) -> None:
    (diag,) = validate_tree(tmp_path / "nope", None)
    assert (diag.code, diag.is_error) == ("VAL008", True)
    (diag,) = validate_tree(tmp_path, None)
    assert (diag.code, diag.is_error) == ("VAL008", False)


def test_missing_crd_folder(tmp_path: Path) -> None:
    write(tmp_path, "m.yaml", PIPELINE)
    assert [d.code for d in validate_tree(tmp_path, tmp_path / "nope")] == ["VAL007"]


# --- built-in kinds with kubernetes-validate ---------------------------------------------------------


@pytest.mark.parametrize("text", [SERVICE_ACCOUNT, CRON_JOB], ids=["ServiceAccount", "CronJob"])
def test_builtin_kinds_pass(tmp_path: Path, text: str) -> None:
    require_module("kubernetes_validate")
    assert check(tmp_path, text, crds=False) == []


def test_builtin_kind_typos_fail(tmp_path: Path) -> None:
    require_module("kubernetes_validate")
    text = CRON_JOB.replace("restartPolicy:", "restartPolicyy:").replace(
        "backoffLimit: 2", "backoffLimit: many"
    )
    assert sorted(paths(check(tmp_path, text, crds=False))) == [
        ("VAL001", "spec.jobTemplate.spec.backoffLimit"),
        ("VAL001", "spec.jobTemplate.spec.template.spec.restartPolicyy"),
    ]
    text = SERVICE_ACCOUNT.replace("automountServiceAccountToken", "automountToken")
    assert paths(check(tmp_path, text, crds=False)) == [("VAL001", "automountToken")]


def test_builtin_name_rules(tmp_path: Path) -> None:
    require_module("kubernetes_validate")
    long_name = "fraud-train-schedule-" + "x" * 40  # CronJob names are limited to 52 characters
    diags = check(tmp_path, CRON_JOB.replace("name: fraud-train-schedule", f"name: {long_name}"), crds=False)
    assert paths(diags) == [("VAL005", "metadata.name")]


def test_custom_group_is_not_mistaken_for_a_builtin(tmp_path: Path) -> None:
    require_module("kubernetes_validate")
    # kubernetes-validate maps apps.example.com/v1 to its apps/v1 schemas; this must stay unknown.
    diags = check(
        tmp_path, "apiVersion: apps.example.com/v1\nkind: Deployment\nmetadata: {name: d}\n", crds=False
    )
    assert [d.code for d in diags] == ["VAL002"]


# --- Kubeflow Pipelines IR -----------------------------------------------------------------------------


def load_pipeline() -> list[Any]:
    return list(yaml.safe_load_all((DATA / "kfp_pipeline.yaml").read_text()))


def test_kfp_pipeline_passes() -> None:
    require_module("kfp")
    assert validate_file(DATA / "kfp_pipeline.yaml", None) == []


def _set(path: tuple[Any, ...], value: Any) -> Callable[[list[Any]], None]:
    def mutate(docs: list[Any]) -> None:
        node = docs
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[list[Any]], None]:
    def mutate(docs: list[Any]) -> None:
        node = docs
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


TRAIN = (0, "root", "dag", "tasks", "train")
COND = (0, "root", "dag", "tasks", "condition-1")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _set((*TRAIN, "componentRef", "name"), "comp-trian"),
            ("VAL003", "root.dag.tasks.train.componentRef.name"),
            id="bad-componentRef",
        ),
        pytest.param(
            _delete((0, "deploymentSpec", "executors", "exec-push")),
            ("VAL003", "components.comp-push.executorLabel"),
            id="missing-executor",
        ),
        pytest.param(
            _set((*TRAIN, "cachingOption"), {"enableCache": True}),
            ("VAL003", "root.dag.tasks.train.cachingOption"),
            id="unknown-field",
        ),
        pytest.param(
            _set((0, "deploymentSpec", "executors", "exec-push", "container", "imag"), "x"),
            ("VAL003", "deploymentSpec.executors.exec-push.container.imag"),
            id="unknown-field-in-executor",
        ),
        pytest.param(_set((0, "schemaVersion"), "2.0.0"), ("VAL003", "schemaVersion"), id="schemaVersion"),
        pytest.param(
            _set((*COND, "dependentTasks"), ["train", "evaluate"]),
            ("VAL003", "root.dag.tasks.condition-1.dependentTasks[1]"),
            id="unknown-dependentTask",
        ),
        pytest.param(
            _set((*TRAIN, "inputs", "parameters", "lr"), {"componentInputParameter": "data"}),
            ("VAL003", "root.dag.tasks.train.inputs.parameters.lr"),
            id="undeclared-input",
        ),
        pytest.param(
            _delete((*TRAIN, "inputs", "parameters", "epochs")),
            ("VAL003", "root.dag.tasks.train.inputs.parameters"),
            id="required-input-missing",
        ),
        pytest.param(
            _set((*COND, "dependentTasks"), []),
            (
                "VAL003",
                "root.dag.tasks.condition-1.inputs.artifacts.pipelinechannel--train-model"
                ".taskOutputArtifact.producerTask",
            ),
            id="producer-not-a-dependency",
        ),
        pytest.param(
            _set((*COND, "triggerPolicy", "condition"), "inputs.parameter_values['auc'] >= 0.9"),
            ("VAL003", "root.dag.tasks.condition-1.triggerPolicy.condition"),
            id="condition-unknown-parameter",
        ),
        pytest.param(
            _set((*TRAIN, "dependentTasks"), ["condition-1"]),
            ("VAL003", "root.dag.tasks.condition-1.dependentTasks"),
            id="cycle",
        ),
        pytest.param(
            _set(
                (1, "platforms", "kubernetes", "deploymentSpec", "executors", "exec-train", "nodeSelectr"), {}
            ),
            ("VAL003", "platforms.kubernetes.deploymentSpec.executors.exec-train.nodeSelectr"),
            id="unknown-kubernetes-field",
        ),
        pytest.param(
            _set((1, "platforms", "kubernetes", "deploymentSpec", "executors", "exec-gone"), {}),
            ("VAL003", "platforms.kubernetes.deploymentSpec.executors.exec-gone"),
            id="kubernetes-config-for-unknown-executor",
        ),
    ],
)
def test_broken_kfp_pipelines_fail(
    tmp_path: Path, mutate: Callable[[list[Any]], None], expected: tuple[str, str]
) -> None:
    require_module("kfp")
    docs = copy.deepcopy(load_pipeline())
    mutate(docs)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    diags = validate_file(path, None, rel="pipeline.yaml")
    assert expected in paths(diags), [d.to_text() for d in diags]
    assert all(d.code == "VAL003" for d in diags)


def test_kfp_reports_parse_and_reference_errors_together(tmp_path: Path) -> None:
    require_module("kfp")
    docs = load_pipeline()
    docs[0]["root"]["dag"]["tasks"]["train"]["componentRef"]["name"] = "comp-nope"
    docs[0]["root"]["dag"]["tasks"]["train"]["cachingOptions"]["enableCach"] = True
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    assert sorted(paths(validate_file(path, None))) == [
        ("VAL003", "root.dag.tasks.train.cachingOptions.enableCach"),
        ("VAL003", "root.dag.tasks.train.componentRef.name"),
    ]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(where=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6), junk=JSONISH)
def test_kfp_check_never_crashes_on_junk(where: list[int], junk: object) -> None:
    """Whatever node of the pipeline is replaced by whatever data, the result is diagnostics."""
    require_module("kfp")
    docs: Any = load_pipeline()
    node = docs
    for step in where[:-1]:  # walk down by position among the keys/items, as far as the data goes
        keys = (
            list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        )
        if not keys or not isinstance(node[keys[step % len(keys)]], dict | list):
            break
        node = node[keys[step % len(keys)]]
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if keys:
        node[keys[where[-1] % len(keys)]] = junk
    assert all(isinstance(d, tuple) for d in validate_pipeline(docs[0], docs[1]))


def test_kfp_check_survives_a_producer_component_that_is_not_a_mapping() -> None:
    """Found by the junk test: a producer's component replaced by null crashed the output lookup."""
    require_module("kfp")
    docs: Any = load_pipeline()
    components = docs[0]["components"]
    for task in docs[0]["root"]["dag"]["tasks"].values():
        for value in task.get("inputs", {}).get("parameters", {}).values():
            producer = value.get("taskOutputParameter", {}).get("producerTask")
            if producer:
                components[docs[0]["root"]["dag"]["tasks"][producer]["componentRef"]["name"]] = None
    assert all(isinstance(d, tuple) for d in validate_pipeline(docs[0], docs[1]))


def test_kfp_platform_errors_name_the_platform_document(tmp_path: Path) -> None:
    require_module("kfp")
    docs = load_pipeline()
    docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-nope"] = {}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    (diag,) = validate_file(path, None, rel="pipeline.yaml")
    assert diag.message.startswith("document 1 (pipeline):")


def test_missing_optional_validators_are_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from compiler.validation import kube

    monkeypatch.setitem(sys.modules, "kfp.pipeline_spec", None)
    monkeypatch.setitem(sys.modules, "kubernetes_validate.utils", None)
    caches = [kube._schema_dir, kube._schema_file, kube._validator, kube._definitions]
    for cache in caches:
        cache.cache_clear()
    try:
        write(tmp_path, "pipeline.yaml", (DATA / "kfp_pipeline.yaml").read_text())
        write(tmp_path, "sa.yaml", SERVICE_ACCOUNT)
        diags = validate_tree(tmp_path, None)
    finally:
        for cache in caches:
            cache.cache_clear()
    assert [(d.code, d.file) for d in diags] == [("VAL006", "pipeline.yaml"), ("VAL006", "sa.yaml")]
    assert all(d.hint == "pip install 'mlspec[validate]'" for d in diags)


# --- the tree walker ----------------------------------------------------------------------------------


def test_tree_dispatch_and_skips(tmp_path: Path) -> None:
    require_module("kfp")
    require_module("kubernetes_validate")
    write(tmp_path, "kustomization.yaml", "resources: [isvc.yaml]\nnamePrefix: x-\n")
    write(
        tmp_path,
        "overlays/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
    )
    write(tmp_path, "rules/fraud.rules.yml", "groups:\n- name: g\n  rules: []\n")
    write(tmp_path, "rules/fraud.test.yml", "rule_files: [fraud.rules.yml]\ntests: []\n")
    write(tmp_path, "alertmanager.yml", "route: {receiver: x}\nreceivers: [{name: x}]\n")
    write(tmp_path, ".github/workflows/ci.yml", "on: push\njobs: {a: {runs-on: x, steps: [{run: 'true'}]}}\n")
    write(tmp_path, ".gitlab-ci.yml", "stages: [a]\njob: {stage: a, script: ['true']}\n")
    write(tmp_path, ".git/broken.yaml", "a: [")
    write(tmp_path, ".mlspec/broken.yaml", "a: [")
    write(tmp_path, "audit/record.yaml", "approvedBy: someone\n")
    write(tmp_path, "kubeflow/pipeline.yaml", (DATA / "kfp_pipeline.yaml").read_text())
    write(tmp_path, "all.yaml", f"{SERVICE_ACCOUNT}\n---\n{INFERENCE_SERVICE}\n---\n")
    assert validate_tree(tmp_path, require_crds()) == []
    write(
        tmp_path,
        "all.yaml",
        f"{SERVICE_ACCOUNT}\n---\n{INFERENCE_SERVICE.replace('minReplicas', 'minReplica')}",
    )
    (diag,) = validate_tree(tmp_path, require_crds())
    assert diag.file == "all.yaml"
    assert diag.message.startswith("document 1 (InferenceService/fraud-detector): ")


@pytest.mark.parametrize(
    ("name", "doc", "expected"),
    [
        ("x/.github/workflows/a.yml", {"name": "a"}, "github-workflow"),
        ("ci.yml", {True: "push", "jobs": {}}, "github-workflow"),
        ("ci/.gitlab-ci.yml", {"stages": ["a"]}, "gitlab-ci"),
        ("r.yml", {"groups": []}, "prometheus-rules"),
        ("t.yml", {"rule_files": []}, "promtool-test"),
        ("am.yml", {"route": {}}, "alertmanager-config"),
        ("kustomization.yaml", {"resources": []}, "kustomize"),
        ("k.yaml", {"kind": "Widget"}, "kubernetes"),
        ("s.yaml", {"apiVersion": "mlspec/v1", "kind": "CiRepositorySettings"}, "mlspec-artifact"),
        ("p.yaml", {"pipelineInfo": {}, "root": {}}, "kfp-pipeline"),
        ("d.yaml", {"owner": "x"}, "data"),
        ("d.yaml", ["a"], "data"),
    ],
)
def test_classify(name: str, doc: object, expected: str) -> None:
    assert classify(doc, name) == expected


def test_yaml_errors_carry_positions(tmp_path: Path) -> None:
    (diag,) = check(tmp_path, "a: 1\nb: [1, 2\n", crds=False)
    assert (diag.code, diag.file) == ("VAL004", "manifest.yaml")
    assert diag.line > 0
    (diag,) = check(tmp_path, "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", crds=False)
    assert (diag.code, diag.line) == ("VAL004", 3)
    assert "duplicate key 'kind'" in diag.message


def test_plain_libyaml_rejection_falls_back_to_the_pure_parser(tmp_path: Path) -> None:
    # libyaml rejects a ':' inside a plain scalar in a flow mapping; PyYAML's pure parser reads it.
    assert check(tmp_path, "code: {repo: https://git.example/acme/fraud}\n", crds=False) == []


# --- the command-line judges -----------------------------------------------------------------------------

VALID_RULES = """
groups:
- name: fraud
  rules:
  - alert: FraudDetectorDown
    expr: up{job="fraud"} == 0
    for: 5m
    labels: {severity: critical}
    annotations: {summary: down}
"""


def test_promtool_check_rules(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    good = write(tmp_path, "good.rules.yml", VALID_RULES)
    result = run_tool([promtool, "check", "rules", good])
    assert result.returncode == 0, result.stdout + result.stderr
    bad = write(tmp_path, "bad.rules.yml", VALID_RULES.replace("== 0", "== ("))
    result = run_tool([promtool, "check", "rules", bad])
    assert result.returncode != 0
    assert "bad.rules.yml" in result.stdout + result.stderr


def test_promtool_test_rules(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    write(tmp_path, "fraud.rules.yml", VALID_RULES)
    test = write(
        tmp_path,
        "fraud.test.yml",
        """
        rule_files: [fraud.rules.yml]
        evaluation_interval: 1m
        tests:
        - interval: 1m
          input_series:
          - series: 'up{job="fraud"}'
            values: '0x10'
          alert_rule_test:
          - eval_time: 10m
            alertname: FraudDetectorDown
            exp_alerts:
            - exp_labels: {severity: critical, job: fraud}
              exp_annotations: {summary: down}
        """,
    )
    result = run_tool([promtool, "test", "rules", test], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_check_config(tmp_path: Path) -> None:
    amtool = require_tool("amtool")
    good = write(
        tmp_path,
        "alertmanager.yml",
        """
        route:
          receiver: default
          group_by: [alertname, model]
          routes:
          - matchers: ['team="risk"', 'severity="critical"']
            receiver: risk-page
        receivers:
        - name: default
        - name: risk-page
        """,
    )
    result = run_tool([amtool, "check-config", good])
    assert result.returncode == 0, result.stdout + result.stderr
    bad = write(tmp_path, "bad.yml", "route:\n  receiver: missing\nreceivers:\n- name: default\n")
    assert run_tool([amtool, "check-config", bad]).returncode != 0


WORKFLOW = """
name: triage
on:
  issues:
    types: [opened]
permissions:
  contents: read
jobs:
  triage:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
    - name: echo title
      env:
        TITLE: ${{ github.event.issue.title }}
      run: echo "$TITLE"
"""


def test_actionlint_rejects_inlined_untrusted_input(tmp_path: Path) -> None:
    actionlint = require_tool("actionlint")
    good = write(tmp_path, ".github/workflows/good.yml", WORKFLOW)
    result = run_tool([actionlint, "-no-color", good], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    inlined = WORKFLOW.replace('run: echo "$TITLE"', 'run: echo "${{ github.event.issue.title }}"')
    bad = write(tmp_path, ".github/workflows/bad.yml", inlined)
    result = run_tool([actionlint, "-no-color", bad], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "github.event.issue.title" in result.stdout
    assert "untrusted" in result.stdout


def test_check_jsonschema_builtin_workflow_schema(tmp_path: Path) -> None:
    checker = require_tool("check-jsonschema")
    good = write(tmp_path, "ci.yml", WORKFLOW)
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", good])
    assert result.returncode == 0, result.stdout + result.stderr
    bad = write(tmp_path, "bad.yml", WORKFLOW.replace("runs-on:", "runs_on:"))
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", bad])
    assert result.returncode == 1, result.stdout + result.stderr


# --- every rendered file is judged by its consumer's validator ----------------------------------------


def _rendered_tree(root: Path) -> Path:
    """The examples rendered by every built-in target, plus the GitLab pipeline of one model."""
    from compiler.render.plugins import discover
    from golden import GOLDEN, render_examples

    registry = discover()
    for rel, data in render_examples(*(registry.targets[n] for n in registry.names())).files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    gitlab = GOLDEN / "ci" / "models" / "fraud-detector" / "ci" / "gitlab-ci.yaml"
    (root / "models" / "fraud-detector" / "ci" / "gitlab-ci.yaml").write_bytes(gitlab.read_bytes())
    return root


def _mutate(path: Path, change: Callable[[Any], None]) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_validate_judges_every_rendered_file_and_each_kind_can_fail(tmp_path: Path) -> None:
    """`mlspec validate` accepts mlspec's own output, names what judged each file, and finds a
    mutation in every kind of file it judges (none is silently skipped)."""
    from compiler.validation import judge_file, judge_tree

    for tool in ("promtool", "amtool"):
        require_tool(tool)
    require_module("check_jsonschema")
    root = _rendered_tree(tmp_path / "tree")
    diags, judged = judge_tree(root, require_crds())
    assert diags == []
    model = "models/fraud-detector"
    expected = {
        f"{model}/prometheus/production/rules.yaml": "promtool check rules",
        f"{model}/prometheus/production/rules.test.yaml": "promtool test rules",
        "prometheus/alertmanager/alertmanager.yml": "amtool check-config",
        "prometheus/alertmanager/teams/risk-ml.yaml": "amtool check-config (as the only route of a config)",
        f"{model}/ci/github-workflow.yaml": "check-jsonschema vendor.github-workflows",
        f"{model}/ci/gitlab-ci.yaml": "check-jsonschema vendor.gitlab-ci",
        "ci/repository-settings.yaml": "mlspec schema CiRepositorySettings",
    }
    assert {rel: judged[rel] for rel in expected} == expected
    assert all(how != "data" for how in judged.values())

    def bad_expr(d: Any) -> None:
        d["groups"][0]["rules"][0]["expr"] = "rate(x[5m]"

    def bad_test(d: Any) -> None:
        d["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "nonsense"}}]

    def bad_route(d: Any) -> None:
        d["route"]["receiver"] = "nobody"

    def bad_workflow(d: Any) -> None:
        d["jobs"]["lint_and_test"]["runs-on"] = 5

    def bad_gitlab(d: Any) -> None:
        d["validate_data"]["when"] = "sometimes"

    def bad_settings(d: Any) -> None:
        d["environments"][0]["approval_required"] = "yes"

    mutations = {
        f"{model}/prometheus/production/rules.yaml": (bad_expr, "VAL020"),
        f"{model}/prometheus/staging/rules.test.yaml": (bad_test, "VAL021"),
        "prometheus/alertmanager/alertmanager.yml": (bad_route, "VAL022"),
        "prometheus/alertmanager/teams/risk-ml.yaml": (bad_route, "VAL022"),
        f"{model}/ci/github-workflow.yaml": (bad_workflow, "VAL023"),
        f"{model}/ci/gitlab-ci.yaml": (bad_gitlab, "VAL024"),
        "ci/repository-settings.yaml": (bad_settings, "VAL025"),
    }
    for rel, (change, code) in mutations.items():
        _mutate(root / rel, change)
        found = judge_file(root / rel, None, rel=rel)[0]
        assert code in {d.code for d in found}, (rel, code, found)


def test_rule_files_fall_back_to_the_promql_parser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from compiler.validation import external, judge_file

    monkeypatch.setattr(external, "_tool", lambda name: None)
    good = write(tmp_path, "good.rules.yml", VALID_RULES)
    assert judge_file(good, None) == ([], "promql-parser (promtool not found)")
    bad = write(tmp_path, "bad.rules.yml", VALID_RULES.replace("== 0", "== ("))
    (diag,) = judge_file(bad, None)[0]
    assert diag.code == "VAL020"
    test = write(tmp_path, "t.yml", "rule_files: [good.rules.yml]\ntests: []\n")
    diags, how = judge_file(test, None)
    assert how == "not judged"
    assert [(d.code, d.severity.value) for d in diags] == [("VAL026", "warning")]
