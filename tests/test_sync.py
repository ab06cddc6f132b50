"""After a rollout commit is pushed, `mlspec rollout` asks the engine to sync now, through the kubernetes
client against tests/kube_api.py (a stand-in API server serving the real REST paths; see there)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api import FakeKube
from tools import REPO_ROOT

from compiler.deploy import commit as commit_module
from compiler.deploy.commit import commit
from compiler.live.prometheus import Sample
from compiler.live.sync import REFRESH, REQUESTED_AT, engine_objects
from compiler.rollout.engine import Options, advance, rollback

APP = "fraud-detector-production"


@dataclass
class Repo:
    project: Path
    deploy: Path
    remote: Path

    def options(self, **extra: Any) -> Options:
        return Options("fraud-detector", self.deploy, prometheus="http://prometheus.invalid:9090",
                       specs=[self.project / "specs"], **{"push": True, **extra})

    def remote_head(self) -> str:
        return _git(self.remote, "rev-parse", "main").strip()


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def make_repo(tmp: Path, gitops: str) -> Repo:
    project, deploy, remote = tmp / "project", tmp / "deploy", tmp / "remote.git"
    (project / "specs").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "specs" / "fraud-detector.yaml", project / "specs")
    (project / "mlspec.yaml").write_text(
        "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {repoURL: 'https://git.example.com/d.git', "
        + gitops + "}\n")
    _git(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(tmp, "init", "-q", "-b", "main", str(deploy))
    _git(deploy, "remote", "add", "origin", str(remote))
    _git(deploy, "config", "user.name", "Rollout Test")
    _git(deploy, "config", "user.email", "rollout@example.com")
    assert commit(deploy, root=project, push=True).status == "committed"
    return Repo(project, deploy, remote)


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    fake = FakeKube().start()
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("MLSPEC_ACTOR", "tester")
    monkeypatch.delenv("MLSPEC_KUBE_CONTEXT", raising=False)
    yield fake
    fake.close()


def load_engine_objects(fake: FakeKube, repo: Repo) -> None:
    """What the engine's root app applied: every object under gitops/ is live in the cluster."""
    for path in sorted((repo.deploy / "gitops").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and not str(doc["apiVersion"]).startswith("kustomize.config.k8s.io/"):
                fake.put(doc)


def firing(*monitors: str) -> Callable[[str, str], list[Sample]]:
    def ask(url: str, expr: str) -> list[Sample]:
        if expr.startswith("ALERTS"):
            return [Sample({"alertname": m, "monitor": m}, 1.0) for m in monitors if m in expr]
        return [Sample({}, 500.0)]

    return ask


def test_argo_application_is_refreshed_after_the_rollback_push(tmp_path: Path, kube: FakeKube) -> None:
    repo = make_repo(tmp_path, "engine: argocd")
    load_engine_objects(kube, repo)
    result = rollback(repo.options(), "p99 regression")
    assert result.code == 0, result.lines
    assert repo.remote_head() == result.sha  # pushed first
    patches = list(kube.patches())
    assert [p.path for p in patches] == [f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{APP}"]
    assert patches[0].headers["content-type"] == "application/merge-patch+json"
    assert patches[0].body == {"metadata": {"annotations": {REFRESH: "normal"}}}
    live = kube.get("argoproj.io/v1alpha1", "Application", "argocd", APP)
    assert live is not None
    assert live["metadata"]["annotations"][REFRESH] == "normal"
    assert any(line.startswith(f"sync: requested Application argocd/{APP}") for line in result.lines)


def test_flux_fetches_the_source_then_reconciles_the_kustomization(tmp_path: Path, kube: FakeKube) -> None:
    repo = make_repo(tmp_path, "engine: flux")
    load_engine_objects(kube, repo)
    result = rollback(repo.options(), "p99 regression")
    assert result.code == 0, result.lines
    paths = [p.path for p in kube.patches()]
    assert paths, result.lines
    assert paths == ["/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/mlspec-deployment",
                     f"/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/{APP}"]
    for request in kube.patches():
        stamp = request.body["metadata"]["annotations"][REQUESTED_AT]
        assert time.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_refused_sync_request_never_undoes_the_commit(tmp_path: Path, kube: FakeKube) -> None:
    repo = make_repo(tmp_path, "engine: argocd")
    load_engine_objects(kube, repo)
    kube.fail_patch = 403
    result = rollback(repo.options(), "p99 regression")
    assert result.code == 0
    assert repo.remote_head() == result.sha
    assert any("HTTP 403" in line and "next poll" in line for line in result.lines), result.lines


def test_a_dead_cluster_is_tried_once_not_retried(tmp_path: Path, kube: FakeKube,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint that drops every connection gets one attempt per engine object: the kubernetes
    client's retries (urllib3 backs off between them) would hold a rollback for seconds each."""
    repo = make_repo(tmp_path, "engine: argocd")
    dead = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def drop() -> None:
        while True:
            try:
                conn, _ = dead.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "dead", context="dead", extra={"dead": url})))
    try:
        result = rollback(repo.options(), "p99 regression")
    finally:
        dead.close()
    assert result.code == 0
    assert repo.remote_head() == result.sha
    synced = [line for line in result.lines if line.startswith("sync: Application")]
    assert synced, result.lines
    assert all("next poll" in line for line in synced), result.lines
    assert len(accepted) == len(synced)  # one PATCH per object, no duplicate
    # urllib3 would retry a refused connection (for any method) three times by default.
    from compiler.live.kubeclient import api_client

    assert api_client("dead").configuration.retries == 0


def test_no_kubeconfig_and_no_cluster_is_reported(tmp_path: Path, kube: FakeKube,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path, "engine: argocd")
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = rollback(repo.options(), "p99 regression")
    assert result.code == 0
    assert any("not running in a cluster" in line for line in result.lines), result.lines


def test_a_local_commit_asks_for_nothing(tmp_path: Path, kube: FakeKube) -> None:
    repo = make_repo(tmp_path, "engine: argocd")
    load_engine_objects(kube, repo)
    result = rollback(repo.options(push=False), "p99 regression")
    assert result.code == 0
    assert not list(kube.patches())
    assert not [line for line in result.lines if line.startswith("sync:")]


def test_webhook_gets_the_event(tmp_path: Path, kube: FakeKube) -> None:
    received: list[tuple[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.headers["Content-Type"], body))
            self.send_response(202)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        repo = make_repo(tmp_path, f"webhook: 'http://127.0.0.1:{server.server_address[1]}/hook'")
        result = rollback(repo.options(), "p99 regression")
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 0
    assert received == [("application/json", {"event": "mlspec.rollout", "model": "fraud-detector",
                                               "environment": "production", "commit": result.sha, "apps": [APP]})]
    assert any(line.startswith("sync: webhook answered HTTP 202") for line in result.lines)
    assert not list(kube.patches())


def test_engine_objects_are_found_by_labels(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "engine: argocd")
    assert [str(o) for o in engine_objects(repo.deploy, "fraud-detector", "staging")] == \
        ["Application argocd/fraud-detector-staging"]
    assert engine_objects(repo.deploy, "fraud-detector", "nowhere") == []


def time_commits(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Record when the rollout's commit starts and when its push returns (`commit_start`, `pushed`)."""
    stamps: dict[str, float] = {}
    real_commit = commit_module.commit

    def timed_commit(*args: Any, **kwargs: Any) -> Any:
        stamps["commit_start"] = time.monotonic()
        outcome = real_commit(*args, **kwargs)
        stamps["pushed"] = time.monotonic()
        return outcome

    monkeypatch.setattr(commit_module, "commit", timed_commit)
    return stamps


def test_rollback_latency_alert_to_commit_to_sync_request(tmp_path: Path, kube: FakeKube,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate sees a firing rollbackOn alert -> the rollback is committed and pushed -> the sync request
    reaches the API server. Printed for the report; bounded so a regression to poll-like delays fails."""
    repo = make_repo(tmp_path, "engine: argocd")
    load_engine_objects(kube, repo)
    stamps = time_commits(monkeypatch)
    start = time.monotonic()
    result = advance(repo.options(query=firing("latency-p99")))
    done = time.monotonic()
    assert result.code == 1  # the gate failed and the rollback was committed
    assert repo.remote_head() == result.sha
    patch = next(kube.patches())
    gate = stamps["commit_start"] - start
    publish = stamps["pushed"] - stamps["commit_start"]
    ask = patch.at - stamps["pushed"]
    print(f"\nrollback latency: gate (alert seen) {gate * 1000:.0f} ms, render+commit+push {publish * 1000:.0f} ms, "
          f"sync request {ask * 1000:.0f} ms, total {(patch.at - start) * 1000:.0f} ms (returned {done - start:.2f} s)")
    assert start < stamps["commit_start"] <= stamps["pushed"] <= patch.at  # in that order, none skipped
