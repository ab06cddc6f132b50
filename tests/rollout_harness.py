"""A real Prometheus on loopback scraping an exporter the caller controls: for the rollout tests and
scripts/rollout_bench.py, which prove the gate against the rendered rules rather than a mock.

`Exporter` serves `/metrics` in the KServe serving stack's names (targets.prometheus.stacks): a request
latency histogram labelled `namespace`/`model_name` and the `ml_inference_errors_total` counter of the
metric contract. Counters grow with wall-clock time at the rates currently set per model.
`LocalPrometheus` runs the Prometheus binary with a 1 s scrape and evaluation interval and the given
rule files, and stops it (terminate, wait, kill) on exit.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from http_stub import LoopbackServer, exposition_handler, free_port

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Traffic:
    """Requests per second of one model; every request takes `latency` seconds."""

    ok: float = 0.0
    failed: float = 0.0
    latency: float = 0.02


@dataclass(slots=True)
class _Counters:
    namespace: str
    traffic: Traffic
    since: float
    requests: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0
    buckets: dict[float, float] | None = None

    def advance(self, at: float) -> None:
        elapsed = max(0.0, at - self.since)
        self.since = at
        total = (self.traffic.ok + self.traffic.failed) * elapsed
        self.requests += total
        self.errors += self.traffic.failed * elapsed
        self.latency_sum += total * self.traffic.latency
        if self.buckets is None:
            self.buckets = dict.fromkeys(BUCKETS, 0.0)
        for bound in BUCKETS:
            if self.traffic.latency <= bound:
                self.buckets[bound] += total


class Exporter:
    """Serving-stack metrics for models whose traffic the caller sets; no traffic set = no series."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], _Counters] = {}  # (model_name, pod) -> counters
        self.server = LoopbackServer(exposition_handler(self.text, only_metrics_path=True), "exporter")
        self.port = self.server.port

    def start(self) -> Exporter:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def set(self, model: str, namespace: str, traffic: Traffic | None, pod: str = "") -> None:
        """Change a model's rates from now on (None: stop exporting it, as if it never served). `pod`:
        the pod label a cluster's service discovery would add (the shadow serves the primary's model
        name, so only its pods tell its series apart)."""
        key = (model, pod)
        with self._lock:
            at = time.monotonic()
            if traffic is None:
                self._models.pop(key, None)
                return
            current = self._models.get(key)
            if current is None:
                self._models[key] = _Counters(namespace, traffic, at)
            else:
                current.advance(at)
                current.traffic = traffic

    def text(self) -> str:
        lines = ["# TYPE request_predict_seconds histogram", "# TYPE ml_inference_errors_total counter"]
        with self._lock:
            at = time.monotonic()
            for (model, pod), counters in sorted(self._models.items()):
                counters.advance(at)
                labels = f'namespace="{counters.namespace}",model_name="{model}"' + (f',pod="{pod}"' if pod else "")
                for bound, count in sorted((counters.buckets or {}).items()):
                    lines.append(f'request_predict_seconds_bucket{{{labels},le="{bound}"}} {count:.3f}')
                lines.append(f'request_predict_seconds_bucket{{{labels},le="+Inf"}} {counters.requests:.3f}')
                lines.append(f"request_predict_seconds_count{{{labels}}} {counters.requests:.3f}")
                lines.append(f"request_predict_seconds_sum{{{labels}}} {counters.latency_sum:.3f}")
                lines.append(f"ml_inference_errors_total{{{labels}}} {counters.errors:.3f}")
        return "\n".join(lines) + "\n"


class LocalPrometheus:
    """`prometheus` on 127.0.0.1 with its own storage, scraping `targets` every second."""

    def __init__(self, binary: str, rule_files: list[Path], targets: list[str], workdir: Path | None = None) -> None:
        self.binary = binary
        self._tmp = tempfile.TemporaryDirectory(prefix="mlspec-prometheus-") if workdir is None else None
        self.workdir: Path = Path(self._tmp.name) if self._tmp is not None else Path(str(workdir))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "exporter", "static_configs": [{"targets": targets}]}],
        }
        self.config = self.workdir / "prometheus.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.log = self.workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> LocalPrometheus:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
                 "--storage.tsdb.retention.time=1h"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {timeout}s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> float:
    """Poll until `predicate()` is truthy; the seconds it took. TimeoutError after `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def rollout_spec(base: dict[str, Any], name: str, hold: str, *, window: str = "10s", for_: str = "2s",
                 min_requests: int = 20) -> dict[str, Any]:
    """`base` (a realtime spec with shadow and canary stages) renamed, with every stage held `hold` and
    the rollout's latency and error monitors on short windows, so a whole walk takes seconds."""
    spec: dict[str, Any] = json.loads(json.dumps(base))
    spec["metadata"]["name"] = name
    rollout = spec["rollout"]
    if rollout.get("shadow"):
        rollout["shadow"]["duration"] = hold
    rollout["canary"] = [{**step, "duration": hold} for step in rollout.get("canary", [])]
    rollout["minRequests"] = min_requests
    watched = {*rollout.get("advanceWhenQuiet", []), *rollout.get("rollbackOn", [])}
    spec["pipeline"].pop("retraining", None)  # its drift monitors are dropped below
    spec["monitors"] = [{**m, "window": window, "for": for_} for m in spec["monitors"] if m["name"] in watched]
    return spec
