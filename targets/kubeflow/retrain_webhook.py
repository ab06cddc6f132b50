"""`mlspec kfp retrain-webhook`: the receiver the Alertmanager retraining route sends to.

Alertmanager POSTs webhook payloads (version 4: `status`, `alerts[]` with `status`, `labels`,
`startsAt`, `fingerprint`, ...) for the alerts labelled `retrain="true"` (targets/prometheus/
alertmanager.py routes them once per model's cooldown). For each firing alert of a model whose
`retraining.yaml` lists the alert's `monitor`, and outside that model's cooldown, this receiver
submits one run of the model's rendered training pipeline through the KFP REST API, with a run-unique
`run_id` and production's baseline (targets/kubeflow/runs.py). It reads everything from a checkout of
the deployment repository (`--repo`), so a triggered run is the reviewed, committed pipeline.

Standard library only besides mlspec itself; it binds where it is told (127.0.0.1 by default).
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from targets.kubeflow import runs

SUPPORTED_VERSION = "4"
MAX_BODY = 1 << 20  # Alertmanager truncates alert lists; a larger body is not from it


@dataclass
class Outcome:
    started: list[str] = field(default_factory=list)  # KFP run ids
    skipped: list[str] = field(default_factory=list)  # why an alert started nothing
    failed: list[str] = field(default_factory=list)  # retriable: the KFP API refused or was unreachable


@dataclass
class Receiver:
    repo: Path  # deployment repository checkout
    submit: Callable[[dict[str, Any]], dict[str, Any]]  # POST /runs, returns the created run
    baselines: Path | None = None  # directory of <model>.json production metrics
    experiment_id: str | None = None
    clock: Callable[[], float] = time.time
    last_run: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def trigger(self, model: str) -> dict[str, Any] | None:
        path = self.repo / "models" / model / "kubeflow" / "retraining.yaml"
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            data = json.loads(doc["data"]["trigger.json"])
        except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    def handle(self, payload: Mapping[str, Any]) -> Outcome:
        out = Outcome()
        if str(payload.get("version")) != SUPPORTED_VERSION:
            out.skipped.append(f"webhook payload version {payload.get('version')!r} is not {SUPPORTED_VERSION}")
            return out
        for alert in payload.get("alerts") or []:
            if not isinstance(alert, dict):
                continue
            self._alert(alert, out)
        return out

    def _alert(self, alert: Mapping[str, Any], out: Outcome) -> None:
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
        assert isinstance(labels, dict)
        model, monitor = str(labels.get("model", "")), str(labels.get("monitor", ""))
        if alert.get("status") != "firing" or labels.get("retrain") != "true":
            out.skipped.append(f"{model or '?'}: not a firing retraining alert")
            return
        if not runs.MODEL_NAME.fullmatch(model):
            out.skipped.append(f"{model!r} is not a model name")
            return
        trigger = self.trigger(model)
        if trigger is None or not trigger.get("onDrift"):
            out.skipped.append(f"{model}: no retraining trigger with onDrift in the deployment repository")
            return
        if monitor not in (trigger.get("monitors") or []):
            out.skipped.append(f"{model}: monitor {monitor!r} does not trigger retraining")
            return
        with self.lock:
            now = self.clock()
            last = self.last_run.get(model)
            if last is not None and now - last < float(trigger.get("cooldownSeconds", 0)):
                out.skipped.append(f"{model}: within the retraining cooldown")
                return
            try:
                body = self._request(model, monitor, alert, now)
            except runs.RunError as exc:
                out.skipped.append(f"{model}: {exc}")
                return
            try:
                created = self.submit(body)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                out.failed.append(f"{model}: KFP did not start the run: {exc}")
                return
            self.last_run[model] = now
            out.started.append(str(created.get("run_id", "")))

    def _request(self, model: str, monitor: str, alert: Mapping[str, Any], now: float) -> dict[str, Any]:
        spec = runs.load_package(self.repo / "models" / model / "kubeflow" / "pipeline.yaml")
        baseline_file = self.baselines / f"{model}.json" if self.baselines is not None else None
        baseline = runs.read_metrics(baseline_file) if baseline_file is not None and baseline_file.is_file() else None
        stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y%m%d-%H%M%S")
        fingerprint = "".join(c for c in str(alert.get("fingerprint", "")) if c.isalnum())[:16] or "alert"
        run_id = f"drift-{stamp}-{fingerprint}"
        params = runs.run_parameters(spec, run_id, baseline)
        return runs.request_body(f"{model}-retrain-{monitor}-{stamp}"[:128], spec, params, self.experiment_id)


def serve(receiver: Receiver, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) that hands Alertmanager's POSTs to `receiver`."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, data: Any) -> None:
            body = json.dumps(data, sort_keys=True).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(200 if self.path == "/healthz" else 404, {"ok": self.path == "/healthz"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/v1/alerts" or not 0 < length <= MAX_BODY:
                self._send(404 if self.path != "/v1/alerts" else 413, {"error": "POST /v1/alerts, at most 1 MiB"})
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except ValueError:
                self._send(400, {"error": "not JSON"})
                return
            if not isinstance(payload, dict):
                self._send(400, {"error": "not a webhook payload"})
                return
            outcome = receiver.handle(payload)
            for line in outcome.skipped + outcome.failed:
                self.log_message("%s", line)
            # 5xx makes Alertmanager retry the notification; a skip is final.
            self._send(502 if outcome.failed else 200, {"started": outcome.started, "skipped": outcome.skipped,
                                                         "failed": outcome.failed})

    return ThreadingHTTPServer((host, port), Handler)
