"""Declared patches (`patches:`): refused where they touch what mlspec guarantees, positioned where they no
longer apply, applied after rendering, judged by the strict CRD validator and by the real kustomize."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import kustomize_build, require_crds

from compiler.deploy.diff import diff_trees
from compiler.deploy.drift import file_drift
from compiler.diagnostics import dotted
from compiler.output.manifest import build_manifest
from compiler.output.tree import render_to
from compiler.output.writer import MANIFEST
from compiler.pipeline import RunResult, run
from compiler.render.patches import _split, patched_fields, strategic_merge
from compiler.render.serialize import dump_yaml
from compiler.validation import load_crds
from compiler.validation.crds import validate_custom_resource
from golden import GOLDEN, SPECS

PROJECT = """apiVersion: mlspec/v1
kind: Project
teams:
  payments-ml: {namespaces: [payments-staging, payments-prod]}
"""
EXAMPLE = (SPECS / "txn-anomaly.yaml").read_text()
UNPATCHED = EXAMPLE[:EXAMPLE.index("# Declared patches")]
ISVC = "models/txn-anomaly/kserve/{env}/{stage}inferenceservice.yaml"


def project(tmp: Path, spec: str) -> Path:
    (tmp / "specs").mkdir(parents=True, exist_ok=True)
    (tmp / "mlspec.yaml").write_text(PROJECT)
    (tmp / "specs" / "txn-anomaly.yaml").write_text(spec)
    return tmp


def render(root: Path) -> RunResult:
    return run(None, root=root, render=True)


def objects(data: bytes) -> list[Any]:
    return [d for d in yaml.safe_load_all(data) if d is not None]


def errors(result: RunResult) -> list[str]:
    return [d.to_text().splitlines()[0] for d in result.diagnostics if d.is_error]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def with_patches(block: str) -> str:
    return UNPATCHED + "patches:\n" + block


# --- the example -------------------------------------------------------------------------------------


def test_example_patches_every_production_stage_and_nothing_else(tmp_path: Path) -> None:
    result = render(project(tmp_path, EXAMPLE))
    assert result.ok, errors(result)
    files = result.files()
    for stage in ("stages/canary-10/", "stages/canary-50/", "stages/full/", "stages/rollback/"):
        (isvc,) = objects(files[ISVC.format(env="production", stage=stage)])
        predictor = isvc["spec"]["predictor"]
        assert predictor["nodeSelector"] == {"pool": "streaming"}
        assert predictor["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "streaming",
                                             "effect": "NoSchedule"}]
        env = [e["name"] for e in predictor["model"].get("env", [])]
        assert ("TS_DEFAULT_WORKERS_PER_MODEL" in env) == (stage == "stages/full/")
        if stage != "stages/rollback/":  # the patch appends: what mlspec renders (the scores' topic) stays
            assert "MLSPEC_OUTPUT_TOPIC" in env
        assert isvc["metadata"]["labels"]["mlspec.dev/model"] == "txn-anomaly"  # provenance untouched
    (staging,) = objects(files[ISVC.format(env="staging", stage="")])
    assert "tolerations" not in staging["spec"]["predictor"]


def test_patched_inference_services_pass_the_strict_crd_validator(tmp_path: Path) -> None:
    index = load_crds(require_crds())
    result = render(project(tmp_path, EXAMPLE))
    assert result.ok, errors(result)
    checked = 0
    for rel, data in result.files().items():
        for doc in objects(data) if rel.endswith(".yaml") and "/kserve/" in rel else []:
            if doc.get("kind") == "InferenceService":
                assert validate_custom_resource(doc, index) == [], rel
                checked += 1
                # The judge is strict: the same patch with a typo is refused.
                typo = strategic_merge(doc, {"spec": {"predictor": {"nodeSelecter": {"pool": "x"}}}})
                assert validate_custom_resource(typo, index), rel
    assert checked == 5  # staging, and production at canary-10, canary-50, full and rollback


def test_unpatched_files_are_byte_identical_and_reserialization_is_stable() -> None:
    # Patching re-serializes a rendered file; on every golden YAML file, parsing and writing back with the
    # canonical writer gives the same bytes, so nothing but the patched fields can change.
    checked = 0
    for path in sorted(GOLDEN.rglob("*.yaml")):
        if "/lint" in path.as_posix():
            continue
        raw = path.read_bytes()
        header, docs = _split(raw)
        assert (header + dump_yaml(docs)).encode() == raw, path
        checked += 1
    assert checked > 100


def test_manifest_records_the_patch_and_drift_stays_quiet(tmp_path: Path) -> None:
    result = render(project(tmp_path / "p", EXAMPLE))
    assert result.ok, errors(result)
    out = tmp_path / "out"
    for rel, data in result.files().items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    manifest = build_manifest(result)
    (out / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(manifest.to_json())
    rel = ISVC.format(env="production", stage="stages/full/")
    entry = manifest.files[rel]
    assert entry["sha256"] == hashlib.sha256((out / rel).read_bytes()).hexdigest()
    (resource,) = entry["resources"]
    assert [p["patch"] for p in resource["patches"]] == ["patches[0]", "patches[1]"]
    assert resource["patches"][1]["content"][1]["path"] == "/spec/predictor/model/env/-"
    assert resource["patches"][0]["fields"] == ["spec.predictor.nodeSelector", "spec.predictor.tolerations"]
    assert json.loads(json.dumps(manifest.files))  # JSON all the way down
    assert file_drift(out, manifest) == []


def test_diff_marks_the_fields_a_patch_changed(tmp_path: Path) -> None:
    before = render(project(tmp_path / "a", UNPATCHED))
    after = render(project(tmp_path / "b", EXAMPLE))
    assert before.ok, errors(before)
    assert after.ok, errors(after)
    diff = diff_trees(before.files(), after.files(), patched=patched_fields(after))
    full = next(r for r in diff.resources if r.file == ISVC.format(env="production", stage="stages/full/"))
    marks = {c.path: c.patch for c in full.changes}
    assert marks["spec.predictor.tolerations"] == "specs/txn-anomaly.yaml patches[0]"
    # The appended env var is marked by name (the list is matched by `name`).
    appended = [path for path in marks if "TS_DEFAULT_WORKERS_PER_MODEL" in path]
    assert appended, sorted(marks)
    assert {marks[path] for path in appended} == {"specs/txn-anomaly.yaml patches[1]"}
    # The spec changed too (its digest annotations): those changes are not the patch's.
    assert any(path.startswith("metadata.annotations") and not by for path, by in marks.items())


# --- refused at lint, with positions --------------------------------------------------------------------


@pytest.mark.parametrize(("block", "needle", "code"), [
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
     "      - {op: replace, path: /metadata/labels/mlspec.dev~1model, value: x}\n", "op: replace", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
     "      - {op: remove, path: /spec/canary}\n", "op: remove", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
     "      - {op: add, path: /metadata/annotations, value: {}}\n", "op: add", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    merge:\n      metadata:\n"
     "        namespace: elsewhere\n", "namespace: elsewhere", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    merge:\n      spec:\n        predictor:\n"
     "          canaryTrafficPercent: 100\n", "canaryTrafficPercent", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    merge:\n      spec: null\n",
     "spec: null", "MLS731"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n", "- target", "MLS730"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
     "      - {op: add, path: spec/x, value: 1}\n", "op: add", "MLS732"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
     "      - {op: replace, path: /spec/x}\n", "op: replace", "MLS732"),
    ("  - target: {kind: InferenceService, name: txn-anomaly}\n    merge:\n      spec:\n"
     "        $retainKeys: [predictor]\n", "$retainKeys", "MLS733"),
    ("  - target: {kind: InferenceService, name: txn-anomaly, environment: prod}\n    merge: {spec: {}}\n",
     "environment: prod", "MLS734"),
])
def test_refused_patches_point_at_the_patch(tmp_path: Path, block: str, needle: str, code: str) -> None:
    spec = with_patches(block)
    result = run(None, root=project(tmp_path, spec))
    found = [d for d in result.diagnostics if d.code == code]
    assert found, errors(result)
    assert found[0].line == line_of(spec, needle), found[0].to_text()
    assert found[0].hint


def test_a_patch_that_adds_to_the_spec_is_allowed(tmp_path: Path) -> None:
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly}\n    json:\n"
                        "      - {op: add, path: /metadata/labels/example.com~1cost-center, value: payments}\n"
                        "      - {op: add, path: /spec/predictor/tolerations/-, value: {key: a, operator: Exists}}\n")
    result = run(None, root=project(tmp_path, spec))
    assert result.ok, errors(result)


# --- no longer applies: positioned at render ------------------------------------------------------------


def test_a_patch_whose_target_is_gone_fails_at_its_target(tmp_path: Path) -> None:
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly, stage: canary-25}\n"
                        "    merge: {spec: {predictor: {nodeSelector: {pool: a}}}}\n")
    result = render(project(tmp_path, spec))
    (found,) = [d for d in result.diagnostics if d.code == "MLS735"]
    assert found.file.endswith("specs/txn-anomaly.yaml"), found
    assert found.line == line_of(spec, "stage: canary-25"), found
    assert "canary-10" in (found.hint or "")  # what is rendered instead
    assert not result.files() or not result.ok


def test_a_kind_nothing_renders_is_a_warning_at_the_kind(tmp_path: Path) -> None:
    # The kserve target may be disabled in mlspec.yaml; a misspelt kind looks the same, so warn.
    spec = with_patches("  - target: {kind: InferenceSevice, name: txn-anomaly}\n"
                        "    merge: {spec: {predictor: {nodeSelector: {pool: a}}}}\n")
    result = render(project(tmp_path, spec))
    assert result.ok, errors(result)
    (found,) = [d for d in result.diagnostics if d.code == "MLS737"]
    assert not found.is_error
    assert found.line == line_of(spec, "InferenceSevice")


def test_a_failing_json_patch_test_points_at_the_operation(tmp_path: Path) -> None:
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly, environment: staging}\n"
                        "    json:\n"
                        "      - {op: test, path: /spec/predictor/model/runtime, value: kserve-torchserve}\n"
                        "      - {op: test, path: /spec/predictor/minReplicas, value: 7}\n"
                        "      - {op: replace, path: /spec/predictor/maxReplicas, value: 3}\n")
    result = render(project(tmp_path, spec))
    (found,) = [d for d in result.diagnostics if d.code == "MLS736"]
    assert found.line == line_of(spec, "minReplicas, value: 7"), found.to_text()
    assert "test" in found.message
    assert not result.ok


def test_a_json_patch_on_a_missing_path_points_at_the_operation(tmp_path: Path) -> None:
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly, environment: staging}\n"
                        "    json:\n      - {op: replace, path: /spec/transformer/minReplicas, value: 1}\n")
    result = render(project(tmp_path, spec))
    (found,) = [d for d in result.diagnostics if d.code == "MLS736"]
    assert found.line == line_of(spec, "/spec/transformer"), found.to_text()


# --- strategic merge, judged by the real kustomize --------------------------------------------------


MERGES = [
    {"spec": {"predictor": {"tolerations": [{"key": "a", "operator": "Exists"}], "nodeSelector": {"p": "q"}}}},
    {"spec": {"predictor": {"model": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}}}},
    {"spec": {"predictor": {"minReplicas": None, "logger": {"mode": "request"}}}},
    {"spec": {"predictor": {"model": {"resources": {"$patch": "replace", "limits": {"cpu": "3"}}}}}},
    {"spec": {"predictor": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}},
]
START = {"spec": {"predictor": {"minReplicas": 1, "logger": {"mode": "all", "url": "http://x"},
                                "tolerations": [{"key": "b", "operator": "Exists"}],
                                "containers": [{"name": "sidecar", "image": "busybox:1.35",
                                                "env": [{"name": "X", "value": "0"}]}],
                                "model": {"modelFormat": {"name": "xgboost"},
                                          "env": [{"name": "A", "value": "0"}, {"name": "C", "value": "3"}],
                                          "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}}}}}
CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job", "namespace": "ns"},
           "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "Never",
               "containers": [{"name": "main", "image": "a:1", "ports": [{"containerPort": 80, "name": "http"}],
                               "env": [{"name": "A", "value": "0"}, {"name": "B0", "value": "2"},
                                       {"name": "C", "value": "3"}],
                               "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                              {"name": "side", "image": "s:1"}]}}}}}}
CRONJOB_MERGES = [
    {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "env": [{"name": "B", "value": "1"}], "ports": [{"containerPort": 8080, "name": "http"}],
         "volumeMounts": [{"name": "data", "mountPath": "/cache"}]}]}}}}}},
    {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "env": [{"name": "A", "$patch": "delete"}]}]}}}}}},
    {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "new", "image": "n:1"},
        {"name": "main", "env": [{"name": "C", "value": "30"}, {"name": "A", "value": "1"}]}]}}}}}},
]


def _kustomize(tmp: Path, resource: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "resource.yaml").write_text(dump_yaml([resource]))
    meta = resource["metadata"]
    # kustomize reads a strategic-merge patch as an object; the identity it carries is the target's.
    body = {"apiVersion": resource["apiVersion"], "kind": resource["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, **patch}
    (tmp / "kustomization.yaml").write_text(dump_yaml([{
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["resource.yaml"],
        "patches": [{"target": {"kind": resource["kind"], "name": meta["name"]}, "patch": dump_yaml([body])}]}]))
    (built,) = kustomize_build(tmp)
    return built


@pytest.mark.parametrize("n", range(len(MERGES) + len(CRONJOB_MERGES)))
def test_strategic_merge_matches_the_real_kustomize(tmp_path: Path, n: int) -> None:
    if n < len(MERGES):
        resource = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                    "metadata": {"name": "m", "namespace": "ns"}, **copy.deepcopy(START)}
        patch = MERGES[n]
    else:
        resource, patch = copy.deepcopy(CRONJOB), CRONJOB_MERGES[n - len(MERGES)]
    ours = strategic_merge(resource, copy.deepcopy(patch), builtin=resource["apiVersion"] == "batch/v1")
    assert ours == _kustomize(tmp_path / "k", resource, patch)


def test_cli_diff_shows_patches_and_drift_is_quiet_after_render(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from compiler.cli import cli

    root = project(tmp_path / "p", UNPATCHED)
    out = tmp_path / "out"
    monkeypatch.chdir(root)
    runner = CliRunner()
    rendered = runner.invoke(cli, ["render", "--out", str(out)])
    assert rendered.exit_code == 0, rendered.output
    (root / "specs" / "txn-anomaly.yaml").write_text(EXAMPLE)
    text = runner.invoke(cli, ["diff", "--against", str(out)])
    assert text.exit_code == 1, text.output
    assert "+ spec.predictor.tolerations: " in text.output
    assert "(patch: specs/txn-anomaly.yaml patches[0])" in text.output
    markdown = runner.invoke(cli, ["diff", "--against", str(out), "--format", "markdown"])
    assert "(patch `specs/txn-anomaly.yaml patches[1]`)" in markdown.output, markdown.output
    assert runner.invoke(cli, ["render", "--out", str(out)]).exit_code == 0
    drift = runner.invoke(cli, ["drift", "--repo", str(out)])
    assert drift.exit_code == 0, drift.output
    # A hand edit of a patched file is still drift: the manifest holds the patched output's sha256.
    patched = out / ISVC.format(env="production", stage="stages/full/")
    patched.write_text(patched.read_text().replace("pool: streaming", "pool: other"))
    drift = runner.invoke(cli, ["drift", "--repo", str(out)])
    assert drift.exit_code == 1
    assert "modified" in drift.output


def test_a_merge_patch_of_the_wrong_shape_points_at_the_key(tmp_path: Path) -> None:
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly, environment: staging}\n"
                        "    merge:\n      spec:\n        predictor:\n          model:\n"
                        "            modelFormat: [pytorch]\n")
    result = render(project(tmp_path, spec))
    (found,) = [d for d in result.diagnostics if d.code == "MLS736"]
    assert found.line == line_of(spec, "modelFormat: [pytorch]"), found.to_text()
    assert "list" in found.message


def test_patch_problems_are_reported_beside_schema_errors_elsewhere(tmp_path: Path) -> None:
    # All problems in one run: a broken `serving:` section does not hide a patch that touches provenance.
    spec = with_patches("  - target: {kind: InferenceService, name: txn-anomaly, environment: production}\n"
                        "    json: [{op: remove, path: /metadata/annotations/mlspec.dev~1spec}]\n")
    spec = spec.replace("pattern: streaming", "pattern: streamin")
    result = run(None, root=project(tmp_path, spec))
    codes = {d.code for d in result.diagnostics}
    assert "MLS104" in codes
    assert "MLS731" in codes


def test_a_patch_without_a_name_follows_the_model_name(tmp_path: Path) -> None:
    # The example names no object: a copy renamed in metadata.name (as tests/test_parallel.py makes) still applies.
    spec = EXAMPLE.replace("name: txn-anomaly\n", "name: txn-anomaly-copy\n", 1)
    result = render(project(tmp_path, spec))
    assert result.ok, errors(result)
    (isvc,) = objects(result.files()["models/txn-anomaly-copy/kserve/production/stages/full/inferenceservice.yaml"])
    assert isvc["metadata"]["name"] == "txn-anomaly-copy"
    assert isvc["spec"]["predictor"]["nodeSelector"] == {"pool": "streaming"}


def test_project_wide_objects_are_out_of_a_spec_patchs_reach(tmp_path: Path) -> None:
    root = project(tmp_path, with_patches(
        "  - target: {kind: Application, name: txn-anomaly-production}\n"
        "    merge: {spec: {destination: {namespace: kube-system}}}\n"))
    (root / "mlspec.yaml").write_text(PROJECT + "targets:\n  gitops: {repoURL: 'https://git.example.com/acme/d.git'}\n")
    result = render(root)
    assert result.ok, errors(result)
    assert [d.code for d in result.diagnostics] == ["MLS737"]
    apps = [o for rel, data in result.files().items() if rel.endswith(".yaml") for o in objects(data)
            if isinstance(o, dict) and o.get("kind") == "Application"]
    assert "txn-anomaly-production" in {a["metadata"]["name"] for a in apps}
    assert all(a["spec"]["destination"]["namespace"] != "kube-system" for a in apps)


# --- project-wide patches (mlspec.yaml) -----------------------------------------------------------------

PROJECT_PATCHES = PROJECT + """patches:
  # Every model's production InferenceService (name defaults to each model's) on the shared GPU pool.
  - target: {kind: InferenceService, environment: production}
    merge: {spec: {predictor: {nodeSelector: {pool: shared}}}}
"""


def test_project_patches_apply_to_every_model_before_the_specs_own(tmp_path: Path) -> None:
    root = project(tmp_path, EXAMPLE)
    (root / "specs" / "churn.yaml").write_text(UNPATCHED.replace("name: txn-anomaly\n", "name: churn\n", 1))
    (root / "mlspec.yaml").write_text(PROJECT_PATCHES)
    result = render(root)
    assert result.ok, errors(result)
    files = result.files()
    (churn,) = objects(files["models/churn/kserve/production/stages/full/inferenceservice.yaml"])
    assert churn["spec"]["predictor"]["nodeSelector"] == {"pool": "shared"}
    (txn,) = objects(files[ISVC.format(env="production", stage="stages/full/")])
    assert txn["spec"]["predictor"]["nodeSelector"] == {"pool": "streaming"}  # the spec's patch comes last
    (staging,) = objects(files["models/churn/kserve/staging/inferenceservice.yaml"])
    assert "nodeSelector" not in staging["spec"]["predictor"]
    marks = patched_fields(result)
    assert ("spec.predictor.nodeSelector", "mlspec.yaml patches[0]") in \
        marks[("models/churn/kserve/production/stages/full/inferenceservice.yaml", "InferenceService", "churn")]


def test_project_patch_problems_point_into_mlspec_yaml(tmp_path: Path) -> None:
    root = project(tmp_path, UNPATCHED)
    config = PROJECT + """patches:
  - target: {kind: InferenceService}
    json: [{op: replace, path: /metadata/namespace, value: other}]
"""
    (root / "mlspec.yaml").write_text(config)
    linted = run(None, root=root)
    (refused,) = [d for d in linted.diagnostics if d.code == "MLS731"]
    assert refused.file.endswith("mlspec.yaml")
    assert refused.line == line_of(config, "/metadata/namespace")
    config = PROJECT + """patches:
  - target: {kind: InferenceService}
    json:
      - {op: test, path: /spec/predictor/minReplicas, value: 40}
"""
    (root / "mlspec.yaml").write_text(config)
    result = render(root)
    found = [d for d in result.diagnostics if d.code == "MLS736"]
    assert found
    assert all(d.file.endswith("mlspec.yaml") and d.line == line_of(config, "value: 40") for d in found), found


def test_a_project_patch_that_matches_no_model_is_a_warning_at_the_patch(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, UNPATCHED)
    (root / "specs" / "churn.yaml").write_text(UNPATCHED.replace("name: txn-anomaly\n", "name: churn\n", 1))
    config = PROJECT_PATCHES + """  - target: {kind: InferenceService, name: fraud-detector}
    merge: {metadata: {labels: {pool: shared}}}
  - target: {kind: InferenceServise}
    merge: {metadata: {labels: {pool: shared}}}
"""
    (root / "mlspec.yaml").write_text(config)
    result = render(root)
    assert result.ok, errors(result)
    found = [d for d in result.diagnostics if d.code == "MLS738"]
    assert all(d.file.endswith("mlspec.yaml") for d in found), found
    assert [(d.line, dotted(d.path), d.is_error) for d in found] == [
        (line_of(config, "name: fraud-detector"), "patches[1].target", False),
        (line_of(config, "kind: InferenceServise"), "patches[2].target", False)]
    # The hint lists what exists: the kind's objects by name, or the kinds when none is of that kind.
    assert "churn" in (found[0].hint or "")
    assert "txn-anomaly" in (found[0].hint or "")
    assert "InferenceService" in (found[1].hint or "")
    # The patch that matched (patches[0]) is not reported, and a model that merely lacks a match is no news.
    assert all(d.path[:2] != ("patches", 0) for d in result.diagnostics)
    # An incremental render reports it too, also when it reuses everything.
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "1")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    for _ in range(2):
        incremental, _change = render_to(tmp_path / "out")
        assert [d.code for d in incremental.diagnostics if d.code == "MLS738"] == ["MLS738", "MLS738"]
    assert any((tmp_path / "cache").iterdir())  # the second render read the cache
