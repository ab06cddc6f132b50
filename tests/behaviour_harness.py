"""Real components on 127.0.0.1 for tests/test_behaviour.py: the KServe Python model server, Debian's
prometheus and prometheus-alertmanager, a webhook receiver and the exporter-contract endpoint.

Everything binds loopback, keeps its files in one work directory and is stopped (terminate, wait,
kill) by `Stack.close`, so a failing test leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from http_stub import LoopbackServer, QuietHandler, exposition_handler, free_port

HERE = Path(__file__).resolve().parent


def get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> float:
    """Seconds until `predicate()` is truthy; AssertionError naming `what` after `timeout`."""
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


class Process:
    """A child process with its output in a log file; `ready` polls a URL until it answers."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                          env={**os.environ, **(env or {})})

    def ready(self, url: str, timeout: float = 60.0) -> None:
        def answers() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.popen.returncode}:\n{self.log.read_text()[-3000:]}")
            get(url, timeout=1)
            return True

        try:
            wait_until(answers, timeout, f"{self.name} ready at {url}")
        except AssertionError:
            raise AssertionError(f"{self.name} not ready:\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@dataclass
class Delivery:
    path: str  # /<team> or /retrain
    receiver: str
    status: str
    alertnames: list[str]
    at: float


class Receiver:
    """Alertmanager's webhook target: records every notification with its receiver and time."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                with receiver.lock:
                    receiver.deliveries.append(Delivery(
                        self.path, str(body.get("receiver")), str(body.get("status")),
                        [str(a.get("labels", {}).get("alertname")) for a in body.get("alerts", [])
                         if a.get("status") == "firing"], time.monotonic()))
                self.reply(200)

        self.server = LoopbackServer(Handler, "receiver").start()
        self.url = self.server.url

    def delivered(self, alertname: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if alertname in d.alertnames]


@dataclass
class ContractSeries:
    """The exporter contract's series for one model identity (docs/metrics.md), as a drift job exports."""

    identity: dict[str, str]
    drift: dict[str, float] = field(default_factory=dict)  # feature -> score
    method: str = "psi"
    last_run: float | None = None  # unix seconds; None: no series
    fresh: bool = True  # last_run follows the clock (a job that keeps reporting)
    present: bool = True


class ContractExporter:
    """`/metrics` in the exporter contract's names, changed by the test at runtime."""

    def __init__(self, series: ContractSeries) -> None:
        self.series = series
        self.server = LoopbackServer(exposition_handler(self.text), "contract-exporter").start()
        self.url = self.server.url

    def text(self) -> str:
        s = self.series
        if not s.present:
            return ""
        ident = ",".join(f'{k}="{v}"' for k, v in sorted(s.identity.items()))
        lines = ["# TYPE ml_feature_drift_score gauge"]
        lines += [f'ml_feature_drift_score{{{ident},feature="{f}",method="{s.method}"}} {v}'
                  for f, v in sorted(s.drift.items())]
        if s.fresh:
            s.last_run = time.time()
        if s.last_run is not None:
            lines += ["# TYPE ml_drift_last_run_timestamp_seconds gauge",
                      f"ml_drift_last_run_timestamp_seconds{{{ident}}} {s.last_run}"]
        return "\n".join(lines) + "\n"


class Traffic:
    """`rate` predict calls per second against the model server from a few threads; rate 0 pauses."""

    def __init__(self, url: str, rate: float, threads: int = 8) -> None:
        self.url = url
        self.rate = rate
        self.stopped = threading.Event()
        self.sent = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i, threads), daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, index: int, count: int) -> None:
        body = json.dumps({"instances": [[1.0, 2.0]]}).encode()
        next_at = time.monotonic() + index / max(self.rate, 0.1) / count
        while not self.stopped.is_set():
            if self.rate <= 0:
                time.sleep(0.1)
                next_at = time.monotonic()
                continue
            now = time.monotonic()
            if now < next_at:
                time.sleep(min(next_at - now, 0.1))
                continue
            next_at += count / self.rate
            request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
                ok = True
            except OSError:
                ok = False
            with self.lock:
                self.sent += 1
                self.failed += 0 if ok else 1

    def stop(self) -> None:
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=10)


def start_kserve(workdir: Path, model: str, control: Path) -> tuple[Process, str]:
    port = free_port()
    proc = Process("kserve", [sys.executable, str(HERE / "kserve_faulty_model.py")], workdir,
                   {"MODEL_NAME": model, "HTTP_PORT": str(port), "CONTROL": str(control)})
    url = f"http://127.0.0.1:{port}"
    proc.ready(f"{url}/v1/models/{model}", timeout=90)
    return proc, url


def start_alertmanager(binary: str, workdir: Path, config: Path) -> tuple[Process, str]:
    port = free_port()
    proc = Process("alertmanager", [
        binary, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"], workdir)
    url = f"http://127.0.0.1:{port}"
    proc.ready(f"{url}/-/ready", timeout=30)
    return proc, url


def start_prometheus(binary: str, workdir: Path, config: dict[str, Any]) -> tuple[Process, str]:
    port = free_port()
    path = workdir / "prometheus.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    proc = Process("prometheus", [
        binary, f"--config.file={path}", f"--storage.tsdb.path={workdir / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", "--storage.tsdb.retention.time=1h"],
        workdir)
    url = f"http://127.0.0.1:{port}"
    proc.ready(f"{url}/-/ready", timeout=30)
    return proc, url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    data = json.loads(get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
    assert data["status"] == "success", data
    return list(data["data"]["result"])


def firing(url: str) -> dict[str, dict[str, str]]:
    """alertname -> labels of every firing alert (one entry per name is enough here)."""
    data = json.loads(get(f"{url}/api/v1/alerts"))
    return {a["labels"]["alertname"]: a["labels"] for a in data["data"]["alerts"] if a["state"] == "firing"}
