"""Rollback latency end to end: a real Prometheus (Debian's) fires the rendered latency alert while
`mlspec rollout advance --wait` holds the stage; the rollback is committed and pushed, and the sync
request reaches the API server (tests/kube_api.py, a stand-in). Measured and printed for the report."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from kube_api import FakeKube
from rollout_harness import Exporter, LocalPrometheus, Traffic, rollout_spec
from test_sync import Repo, _git, load_engine_objects, time_commits
from tools import REPO_ROOT, require_tool

from compiler.deploy.commit import commit
from compiler.live.sync import REFRESH
from compiler.rollout.engine import Options, advance

MODEL = "fd-slow"
NAMESPACE = "risk-prod"


def firing_since(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=2) as response:
        alerts = json.load(response)["data"]["alerts"]
    return any(a["state"] == "firing" and a["labels"].get("model") == MODEL for a in alerts)


def test_alert_to_commit_to_sync_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = require_tool("prometheus")
    project, deploy, remote = tmp_path / "project", tmp_path / "deploy", tmp_path / "remote.git"
    (project / "specs").mkdir(parents=True)
    base = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())
    spec = rollout_spec(base, MODEL, "1h")  # a one-hour hold: only the alert can end the wait
    (project / "specs" / f"{MODEL}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n"
                                         "targets:\n  gitops: {repoURL: 'https://git.example.com/d.git'}\n")
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(tmp_path, "init", "-q", "-b", "main", str(deploy))
    _git(deploy, "remote", "add", "origin", str(remote))
    _git(deploy, "config", "user.name", "Rollout Test")
    _git(deploy, "config", "user.email", "rollout@example.com")
    assert commit(deploy, root=project, push=True).status == "committed"
    repo = Repo(project, deploy, remote)

    kube = FakeKube().start()
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("MLSPEC_ACTOR", "tester")
    load_engine_objects(kube, repo)
    stamps = time_commits(monkeypatch)
    exporter = Exporter().start()
    rules = [deploy / f"models/{MODEL}/prometheus/production/rules.yaml"]
    try:
        exporter.set(MODEL, NAMESPACE, Traffic(ok=50, latency=0.02))
        with LocalPrometheus(binary, rules, [f"127.0.0.1:{exporter.port}"], tmp_path / "prometheus") as prom:
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    asked = time.monotonic()
                    try:
                        if "fired" not in stamps:
                            if firing_since(prom.url):
                                stamps["fired"] = time.monotonic()  # seen: it fired before this answer
                            else:
                                stamps["quiet"] = asked  # not firing yet when this question was asked
                    except OSError:
                        pass
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            # The p99 breaks 4 s into the wait; the alert fires after its window and `for: 2s`.
            threading.Timer(4.0, lambda: exporter.set(MODEL, NAMESPACE, Traffic(ok=50, latency=0.4))).start()
            options = Options(MODEL, deploy, prometheus=prom.url, specs=[project / "specs"], push=True)
            result = advance(options, wait=True, timeout=90, interval=0.5)
            stop.set()
            watcher.join(timeout=5)
    finally:
        exporter.close()
        kube.close()
    assert result.code == 1, result.lines
    assert _git(remote, "rev-parse", "main").strip() == result.sha
    patch = next(kube.patches())
    assert patch.path.endswith(f"/applications/{MODEL}-production")
    assert patch.body == {"metadata": {"annotations": {REFRESH: "normal"}}}
    fired = stamps["fired"]
    print(f"\nrollback latency (real Prometheus, advance --wait --interval 0.5): alert firing -> gate commits "
          f"{(stamps['commit_start'] - fired) * 1000:.0f} ms, render+commit+push "
          f"{(stamps['pushed'] - stamps['commit_start']) * 1000:.0f} ms, sync request "
          f"{(patch.at - stamps['pushed']) * 1000:.0f} ms; alert -> sync request {(patch.at - fired):.2f} s")
    # alert -> commit -> push -> sync. The alert fired after the last quiet answer and before the watcher
    # saw it; the gate may see it first (it polls too), so the commit is bounded by the quiet answer.
    assert stamps["quiet"] <= stamps["commit_start"] <= stamps["pushed"] <= patch.at
