"""vLLM's latency and request series as Debian's Prometheus 2.x really stores them.

vLLM serves `/metrics` with prometheus_client; prometheus_client (0.26,
prometheus_client/openmetrics/exposition.py `generate_latest`) escapes OpenMetrics sample names with the
label-name character set unless the scraper asks for `escaping=allow-utf-8`, and Prometheus 2.x does
not ask. So a real scrape stores `vllm_e2e_request_latency_seconds_bucket` (Prometheus 3.x keeps
`vllm:`). The stand-in registers vLLM's own histogram (vllm/v1/metrics/loggers.py:
`vllm:e2e_request_latency_seconds`, labels `model_name` and `engine`, its `request_latency_buckets`);
the scrape adds `namespace` and `pod` as the cluster's pod scrape would. The support-assistant example,
rendered with `timeScale` 1/30, must then: fire its latency alert on slow requests, see the requests in
the rollout gate's traffic query, and pass `mlspec verify`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from behaviour_harness import Process, firing, query, wait_until
from family import render
from live_exporter import TickingExporter, prometheus_scraping
from tools import require_tool

from compiler.live import verify
from compiler.live.prometheus import query as prom_query
from compiler.monitoring import serving_metrics
from compiler.monitoring.serving_metrics import VLLM_E2E_BUCKETS
from compiler.pipeline import run

MODEL = "support-assistant"
NAMESPACE = "support-ai-prod"
SCALE = 1 / 30  # 5m windows become 10s, 10m `for:` 20s
MONITORS: list[dict[str, Any]] = [
    {"name": "latency-p95", "kind": "latency", "quantile": 0.95, "threshold": "2500ms", "for": "10m"},
]
# The rollout's minRequests 500 over the scaled 10s window: the guard is 50 requests a second.
RATE = 120.0
FAST, SLOW = 0.4, 12.0  # seconds per request, either side of the 2.5s threshold


class VllmStandIn(TickingExporter):
    """vLLM's e2e latency histogram in prometheus_client, observed by a ticker at `RATE`."""

    def __init__(self) -> None:
        super().__init__()
        self.latency = FAST
        self.histogram = self.client.Histogram("vllm:e2e_request_latency_seconds", "", ["model_name", "engine"],
                                               buckets=VLLM_E2E_BUCKETS, registry=self.registry)
        self.serve()

    def step(self, dt: float) -> None:
        child = self.histogram.labels(model_name=MODEL, engine="0")
        for _ in range(int(RATE * dt)):
            child.observe(self.latency)


@dataclass
class Live:
    prometheus: str
    vllm: VllmStandIn
    project: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary = require_tool("prometheus")
    root = tmp_path_factory.mktemp("vllm-names")
    rendered = render(root / "project", MONITORS, base=MODEL, settings={"timeScale": SCALE})
    vllm = VllmStandIn()
    processes: list[Process] = []
    try:
        proc, url = prometheus_scraping(binary, root / "run", vllm, rendered.dir() / "rules.yaml", "vllm",
                                        labels={"namespace": NAMESPACE, "pod": f"{MODEL}-predictor-7c9d5-x2x4q"})
        processes.append(proc)
        wait_until(lambda: query(url, 'up{job="vllm"} == 1'), 30, "the stand-in scraped")
        yield Live(url, vllm, root / "project")
    finally:
        for proc in processes:
            proc.stop()
        vllm.close()


def stored(live: Live) -> str:
    return str(sorted({s["metric"]["__name__"] for s in query(live.prometheus, '{job="vllm"}')}))


def test_gate_and_verify_see_vllms_requests(live: Live) -> None:
    result = run([live.project / "specs" / f"{MODEL}.yaml"], root=live.project)
    (plan,) = [s.plan for s in result.specs if s.plan is not None]
    traffic = serving_metrics.traffic_query(plan, NAMESPACE, "10s", 10)
    try:
        wait_until(lambda: [s for s in query(live.prometheus, traffic) if float(s["value"][1]) > 0], 30,
                   "the rollout gate's traffic query counting requests")
    except AssertionError:
        raise AssertionError(f"{traffic} saw no requests; stored: {stored(live)}") from None
    outcome = verify.verify(None, live.project, live.prometheus, "production")
    assert outcome.code == 0, "\n".join(outcome.lines)
    # A selector of both spellings that matches nothing is still checked and narrowed down.
    rendered = run([live.project / "specs" / f"{MODEL}.yaml"], root=live.project, render=True)
    rules = list(verify.rule_groups(rendered.files()))
    wrong = serving_metrics.series_selector("vllm:e2e_request_latency_seconds_count",
                                            {"namespace": NAMESPACE, "model_name": "other-assistant"})
    asked = verify.check_plan(plan, "production", [dict(rules[0], expr=f"sum(rate({wrong}[10s]))")],
                              lambda e: prom_query(live.prometheus, e))
    assert [p.code for p in asked] == ["VER002"], asked
    assert ('vllm:e2e_request_latency_seconds_count|vllm_e2e_request_latency_seconds_count has no series with '
            'model_name="other-assistant"; model_name values: support-assistant') in asked[0].message


def test_latency_fault_fires_on_vllms_histogram(live: Live) -> None:
    live.vllm.latency = FAST
    p95 = '{__name__=~"ml:request_latency_seconds:histogram_quantile_rate.+", model="support-assistant"}'
    try:
        wait_until(lambda: query(live.prometheus, f"{p95} < 2.5"), 30, "the rules' p95 read from the histogram")
    except AssertionError:
        raise AssertionError(f"the rules read no p95; stored: {stored(live)}") from None
    assert "LatencyP95" not in firing(live.prometheus)
    live.vllm.latency = SLOW
    try:
        wait_until(lambda: "LatencyP95" in firing(live.prometheus), 60, "LatencyP95 firing")
    except AssertionError:
        raise AssertionError(f"no latency alert on slow requests; stored: {stored(live)}") from None
    labels = firing(live.prometheus)["LatencyP95"]
    assert (labels["model"], labels["monitor"]) == (MODEL, "latency-p95")
    live.vllm.latency = FAST
