"""`data.featureStore` reaches the code that reads features: every training step and batch scoring (KFP
container env) and the model server (InferenceService predictor env), and the output still passes the
consumers' own strict checks (the kfp SDK's protobuf parse, KServe's CRD made strict)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from tools import require_crds, require_module

from compiler.pipeline import RunResult, run
from compiler.planning.feature_store import PROJECT, PROVIDER, SERVICE
from compiler.validation import validate_tree
from golden import SPECS, registry_of
from targets.kserve import KServeTarget
from targets.kubeflow import KubeflowTarget

# churn-scorer (the batch example) already reads this store; the test gives fraud-detector the same one.
STORE = "  featureStore: {provider: feast, project: growth, service: churn_features_v3}\n"
EXPECTED = [{"name": PROVIDER, "value": "feast"}, {"name": PROJECT, "value": "growth"},
            {"name": SERVICE, "value": "churn_features_v3"}]


def _render(tmp_path: Path, store: bool) -> RunResult:
    root = tmp_path / ("with" if store else "without")
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for name in ("fraud-detector", "churn-scorer"):  # realtime with a rollout, and batch scoring
        text = (SPECS / f"{name}.yaml").read_text()
        if store and STORE not in text:
            text = text.replace("\nmodel:\n", "\n" + STORE + "model:\n", 1)
        elif not store:
            text = text.replace(STORE, "")
        assert (STORE in text) is store
        (root / "specs" / f"{name}.yaml").write_text(text)
    result = run([root / "specs"], root=root, render=True, registry=registry_of(KubeflowTarget(), KServeTarget()),
                 jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    return result


def _docs(files: dict[str, bytes]) -> list[tuple[str, Any]]:
    return [(path, doc) for path, data in sorted(files.items()) if path.endswith(".yaml")
            for doc in yaml.safe_load_all(data) if isinstance(doc, dict)]


def _containers(files: dict[str, bytes]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, doc in _docs(files):
        spec = doc.get("pipelineSpec", doc)  # the schedule's PipelineVersion/ConfigMap wrappers are skipped
        for label, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
            if "container" in executor and not label.startswith("exec-register"):
                found.append((path, label, executor["container"]))
    return found


def _predictors(files: dict[str, bytes]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, doc["spec"]["predictor"]["model"]) for path, doc in _docs(files)
            if doc.get("kind") == "InferenceService"]


def test_the_feature_store_is_in_every_task_and_predictor(tmp_path: Path) -> None:
    files = _render(tmp_path, store=True).files()
    containers, predictors = _containers(files), _predictors(files)
    labels = {label for _, label, _ in containers}
    assert {"exec-train", "exec-evaluate", "exec-score"} <= labels, labels
    assert len(predictors) >= 5
    for path, label, container in containers:
        assert [e for e in container.get("env", []) if e["name"].startswith("MLSPEC_FEATURE")] == EXPECTED, (
            path, label)
    for path, model in predictors:
        assert model["env"] == EXPECTED, path


def test_without_a_feature_store_nothing_changes(tmp_path: Path) -> None:
    files = _render(tmp_path, store=False).files()
    assert not any("MLSPEC_FEATURE" in data.decode() for data in files.values())


def test_the_output_passes_the_consumers_strict_checks(tmp_path: Path) -> None:
    require_module("kfp")
    crds = require_crds()
    out = tmp_path / "out"
    for rel, data in _render(tmp_path, store=True).files().items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    diags = validate_tree(out, crds)
    assert not diags, "\n".join(d.to_text() for d in diags)
