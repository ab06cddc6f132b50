"""The pieces the live Prometheus tests share: a stand-in exporter (prometheus_client metrics served by
prometheus_client's own HTTP server, advanced by a ticker thread) and Debian's prometheus scraping it
with the rendered rules loaded, at a 1 s scrape and evaluation interval."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from behaviour_harness import Process, start_prometheus
from tools import require_module


class TickingExporter:
    """Subclasses define their metrics on `self.registry` in `__init__`, then call `self.serve()`;
    `step(dt)` runs every `dt` seconds until `close()`."""

    def __init__(self, dt: float = 0.1) -> None:
        self.client: Any = require_module("prometheus_client")
        self.registry = self.client.CollectorRegistry()
        self.dt = dt
        self.stopped = threading.Event()

    def serve(self) -> None:
        self.server, _ = self.client.start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port = int(self.server.server_port)  # the kernel's choice: no window for another process
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def step(self, dt: float) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.step(self.dt)
            self.stopped.wait(self.dt)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.server.shutdown()
        self.server.server_close()


def prometheus_scraping(binary: Path, work: Path, exporter: TickingExporter, rules: Path, job: str, *,
                        labels: dict[str, str] | None = None, honor_labels: bool = False) -> tuple[Process, str]:
    """Start prometheus in `work` with `rules` loaded, scraping `exporter` as job `job`: `labels` are what
    service discovery would add; `honor_labels` keeps the exporter's own (a job exporting for models)."""
    static: dict[str, Any] = {"targets": [f"127.0.0.1:{exporter.port}"]}
    if labels:
        static["labels"] = labels
    scrape: dict[str, Any] = {"job_name": job, "static_configs": [static]}
    if honor_labels:
        scrape["honor_labels"] = True
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [scrape],
    }
    work.mkdir(parents=True, exist_ok=True)
    return start_prometheus(binary, work, config)
