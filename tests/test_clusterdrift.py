"""`mlspec drift --cluster` through the kubernetes client (its DynamicClient: discovery, GET, LIST) against
tests/kube_api.py, a stand-in API server serving the real REST paths with the API server's shapes."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kube_api import FakeKube

from compiler.cli import cli
from compiler.live.clusterdrift import compare, desired
from compiler.pipeline import run
from golden import SPECS

PROJECT = "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {repoURL: 'https://git.example.com/deploy.git'}\n"
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clusterdrift") / "project"
    shutil.copytree(SPECS, root / "specs")
    (root / "mlspec.yaml").write_text(PROJECT)
    return root


@pytest.fixture(scope="module")
def rendered(project: Path) -> list[dict[str, Any]]:
    result = run(None, root=project, render=True)
    assert result.ok
    return desired(result.files(), None)


def server_view(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object as the API server keeps it: the applier's and engine's metadata, defaulted fields."""
    live = copy.deepcopy(obj)
    defaults: dict[str, Any] = {"metadata": {
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "labels": {"argocd.argoproj.io/instance": "some-app"}}}
    if obj["kind"] == "InferenceService":
        defaults["spec"] = {"predictor": {"model": {"name": ""}, "containerConcurrency": 0}}
    if obj["kind"] == "CronJob":
        defaults["spec"] = {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3}
        for container in live["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("imagePullPolicy", "IfNotPresent")
    return live, defaults


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path,
         rendered: list[dict[str, Any]]) -> Iterator[FakeKube]:
    fake = FakeKube().start()
    for obj in rendered:
        live, defaults = server_view(obj)
        fake.put(live, defaults)
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.chdir(project)
    yield fake
    fake.close()


def drift(*args: str) -> Any:
    return CliRunner().invoke(cli, ["drift", "--cluster", *args])


def test_in_sync_cluster_with_server_defaults_is_no_drift(kube: FakeKube, rendered: list[dict[str, Any]]) -> None:
    result = drift()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"cluster drift: 0 finding(s) in {len(rendered)} rendered object(s)")
    paths = {r.path for r in kube.requests}
    assert {"/api/v1", "/apis", "/apis/serving.kserve.io/v1beta1"} <= paths  # real discovery, then reads
    assert "/apis/serving.kserve.io/v1beta1/namespaces/risk-prod/inferenceservices/fraud-detector" in paths
    assert all(r.method == "GET" for r in kube.requests)  # drift never writes


def test_missing_changed_and_orphaned(kube: FakeKube) -> None:
    del kube.objects[("monitoring.coreos.com", "prometheusrules", "risk-prod", "fraud-detector-production")]
    live = kube.get(*ISVC, "risk-prod", "fraud-detector")
    assert live is not None
    live["spec"]["predictor"]["minReplicas"] = 9
    live["metadata"]["labels"]["mlspec.dev/model-version"] = "99"
    orphan = copy.deepcopy(live)
    orphan["metadata"]["name"] = "retired-model"
    kube.put(orphan)
    stranger = copy.deepcopy(orphan)
    stranger["metadata"]["name"] = "not-ours"
    stranger["metadata"]["labels"] = {"app": "x"}
    kube.put(stranger)
    result = drift()
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "missing   risk-prod, fraud-detector-production, PrometheusRule (monitoring.coreos.com)" in lines
    assert "changed   risk-prod, fraud-detector, InferenceService (serving.kserve.io)" in lines
    assert "  ~ spec.predictor.minReplicas: 2 -> 9 (live)" in lines
    # production starts at the shadow stage, where the primary still runs (and is labelled) version 11
    assert "  ~ metadata.labels.mlspec.dev/model-version: \"11\" -> \"99\" (live)" in lines
    assert any(line.startswith("orphaned  risk-prod, retired-model, InferenceService") for line in lines)
    assert not any("not-ours" in line for line in lines)
    data = json.loads(drift("--format", "json").stdout)
    assert sorted(f["state"] for f in data["findings"]) == ["changed", "missing", "orphaned"]


def test_env_checks_only_that_environment(kube: FakeKube) -> None:
    for key in [k for k in kube.objects if k[2].endswith("prod")]:
        del kube.objects[key]
    assert drift("--env", "staging").exit_code == 0
    production = drift("--env", "production")
    assert production.exit_code == 1
    assert "missing   risk-prod, fraud-detector, InferenceService (serving.kserve.io)" in production.stdout
    assert "risk-staging" not in production.stdout
    unknown = drift("--env", "nowhere")
    assert unknown.exit_code == 2
    assert "MLS295" in unknown.stderr


def test_context_selects_the_cluster(kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = FakeKube().start()
    try:
        config = empty.kubeconfig(tmp_path / "two", context="empty", extra={"live": kube.url})
        monkeypatch.setenv("KUBECONFIG", str(config))
        assert drift().exit_code == 1  # the current context is the empty cluster: everything missing
        assert drift("--context", "live").exit_code == 0
        bad = drift("--context", "nope")
        assert bad.exit_code == 2
        assert "MLS293" in bad.stderr
    finally:
        empty.close()


def test_refused_reads_and_dead_clusters_are_errors_not_tracebacks(kube: FakeKube, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kube.token = "another-token"  # every request is now 401 Unauthorized
    refused = drift()
    assert refused.exit_code == 2
    assert "MLS294" in refused.stderr
    assert "Traceback" not in refused.output
    kube.close()
    dead = drift()
    assert dead.exit_code == 2
    assert "MLS294" in dead.stderr


def test_compare_ignores_what_only_the_server_sets() -> None:
    rendered = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    live = {"metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}, "managedFields": []},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always"}], "extra": 1},
            "status": {"ready": True}}
    assert compare(rendered, live) == []
    live["spec"]["containers"][0]["image"] = "j"
    assert compare(rendered, live) == [("spec.containers[name=c].image", "i", "j")]


def test_drift_without_cluster_does_not_import_the_client() -> None:
    code = ("import sys; from compiler.deploy.cli import drift_command; import compiler.live.clusterdrift; "
            "import compiler.live.sync; print('kubernetes' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_repo_is_still_required_without_cluster(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["drift"])
    assert result.exit_code == 2
    assert "--repo is required" in result.stderr


def test_repo_supplies_the_live_rollout_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model mid-rollout is compared at the stage the deployment repository records, not the first one."""
    import subprocess as sp

    import yaml
    from rollout_harness import rollout_spec
    from test_rollout import answers, loaded_rules

    from compiler.deploy.commit import commit
    from compiler.ledger.state import load_states
    from compiler.rollout.engine import Options, advance

    project, deploy = tmp_path / "project", tmp_path / "deploy"
    (project / "specs").mkdir(parents=True)
    base = yaml.safe_load((SPECS / "fraud-detector.yaml").read_text())
    (project / "specs" / "alpha.yaml").write_text(yaml.safe_dump(rollout_spec(base, "alpha", "1s"), sort_keys=False))
    (project / "mlspec.yaml").write_text(PROJECT)
    sp.run(["git", "init", "-q", "-b", "main", str(deploy)], check=True)
    sp.run(["git", "-C", str(deploy), "config", "user.name", "t"], check=True)
    sp.run(["git", "-C", str(deploy), "config", "user.email", "t@example.com"], check=True)
    monkeypatch.setenv("MLSPEC_ACTOR", "tester")
    assert commit(deploy, root=project).status == "committed"
    options = Options("alpha", deploy, prometheus="http://prometheus.invalid:9090", specs=[project / "specs"],
                      push=False, query=answers(), rules=lambda url: loaded_rules(deploy))
    assert advance(options, wait=True, timeout=30, interval=0.1).code == 0
    result = run(None, root=project, render=True, rollout_state=load_states(deploy))
    fake = FakeKube().start()
    try:
        for obj in desired(result.files(), None):
            fake.put(obj)
        monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.chdir(project)
        at_stage = drift("--repo", str(deploy))
        assert at_stage.exit_code == 0, at_stage.output
        first_stage = drift()
        assert first_stage.exit_code == 1
        # Compared at the first stage instead, the shadow stage's objects are missing from the cluster.
        assert "missing   risk-prod, alpha-shadow, InferenceService (serving.kserve.io)" in first_stage.stdout
    finally:
        fake.close()
