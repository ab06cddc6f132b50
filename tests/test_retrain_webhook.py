"""Drift retraining end to end: the rendered Alertmanager config (real `prometheus-alertmanager`) routes a
firing drift alert to `mlspec kfp retrain-webhook`, which starts one run of the committed pipeline at a
stand-in KFP API (tests/kfp_fake.py, requests judged by kfp_server_api) with run-unique parameters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_stub import free_port
from kfp_fake import FakeKfp
from rollout_harness import wait_for
from tools import require_tool

from golden import SPECS
from targets.kubeflow.retrain_webhook import Receiver

MODEL = "fraud-detector"


def _post(url: str, data: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def deploy(tmp_path: Path) -> tuple[Path, int]:
    """A rendered deployment tree whose retraining route points at a free loopback port."""
    port = free_port()
    root = tmp_path / "specs-repo"
    (root / "specs").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "specs" / f"{MODEL}.yaml").write_text((SPECS / f"{MODEL}.yaml").read_text())
    project = {"apiVersion": "mlspec/v1", "kind": "Project", "targets": {"prometheus": {
        "retrainWebhookUrl": f"http://127.0.0.1:{port}/v1/alerts",
        "alertmanager": {"groupWait": "1s", "groupInterval": "1s"}}}}
    (root / "mlspec.yaml").write_text(yaml.safe_dump(project))
    out = tmp_path / "deploy"
    mlspec = str(Path(sys.executable).parent / "mlspec")
    subprocess.run([mlspec, "render", "--out", str(out)], cwd=root, check=True, capture_output=True)
    return out, port


def test_drift_alert_through_alertmanager_starts_one_run_unique_kfp_run(deploy: tuple[Path, int],
                                                                         tmp_path: Path) -> None:
    out, port = deploy
    binary = require_tool("prometheus-alertmanager")
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / f"{MODEL}.json").write_text(json.dumps({"auc": 0.931}))
    am_port = free_port()
    am_url = f"http://127.0.0.1:{am_port}"
    procs: list[subprocess.Popen[bytes]] = []
    with FakeKfp() as kfp:
        try:
            procs.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "mlspec"), "kfp", "retrain-webhook", "--repo", str(out),
                 "--host", kfp.url, "--listen", f"127.0.0.1:{port}", "--baselines", str(baselines)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(
                [binary, f"--config.file={out / 'prometheus' / 'alertmanager' / 'alertmanager.yml'}",
                 f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                 "--cluster.listen-address=", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for(lambda: _ready(f"http://127.0.0.1:{port}/healthz") and _ready(f"{am_url}/-/ready"), 20)
            now = datetime.now(UTC).isoformat()
            common = {"model": MODEL, "model_version": "12", "environment": "production", "team": "risk-ml"}
            _post(f"{am_url}/api/v2/alerts", [
                {"labels": {**common, "alertname": "FraudDetectorFeatureDrift", "monitor": "feature-drift",
                            "severity": "warning", "retrain": "true"}, "startsAt": now},
                # Not a retraining monitor: routed to the team only, it must start nothing.
                {"labels": {**common, "alertname": "FraudDetectorLatencyP99", "monitor": "latency-p99",
                            "severity": "critical"}, "startsAt": now},
            ])
            wait_for(lambda: kfp.runs, 30)
            time.sleep(2.5)  # more group intervals: a repeat inside the cooldown starts nothing
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)
    assert kfp.problems == []
    assert len(kfp.runs) == 1
    run = kfp.runs[0]
    params = run["runtime_config"]["parameters"]
    assert params["baseline_auc"] == 0.931
    assert params["run_id"].startswith("drift-")
    assert params["model_output_uri"] == f"s3://models/{MODEL}/12/runs/{params['run_id']}"
    # The committed pipeline, as it is in the deployment repository: IR and Kubernetes platform document.
    ir, platform = yaml.safe_load_all((out / "models" / MODEL / "kubeflow" / "pipeline.yaml").read_text())
    assert run["pipeline_spec"] == {"pipeline_spec": ir, "platform_spec": platform}


def test_receiver_refuses_what_it_cannot_honour(deploy: tuple[Path, int]) -> None:
    out, _ = deploy
    sent: list[dict[str, Any]] = []
    receiver = Receiver(repo=out, submit=lambda body: sent.append(body) or {"run_id": "r"}, clock=lambda: 1000.0)
    alert = {"status": "firing", "fingerprint": "ab12",
             "labels": {"model": MODEL, "monitor": "feature-drift", "retrain": "true"}}
    # The pipeline compares with production's auc: without a baseline it must not start (fail closed).
    outcome = receiver.handle({"version": "4", "alerts": [alert]})
    assert sent == []
    assert any("baseline" in line for line in outcome.skipped)
    assert receiver.handle({"version": "3", "alerts": [alert]}).skipped
    for labels in ({**alert["labels"], "model": "../etc"}, {**alert["labels"], "monitor": "error-rate"}):
        assert receiver.handle({"version": "4", "alerts": [{**alert, "labels": labels}]}).started == []
    assert sent == []
