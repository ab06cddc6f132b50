"""The exporter-contract families judged by the real thing: Debian's prometheus scrapes a job built with
prometheus_client (the Python client a drift, evaluation, cost or LLM-judge job would use) and
evaluates the rendered rule file; every alert must stay quiet while the job reports healthy values and
fire once it reports its fault.

tests/test_behaviour.py does the same for the live-traffic families and data drift against KServe's
model server; this covers the kinds it does not: prediction drift, concept drift, fairness, cost,
hallucination rate, grounding and token cost. The spec is rendered with `timeScale: 1/30` (5m windows
become 10s), a render-time setting: the rule file is never edited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from behaviour_harness import Process, firing, query, wait_until
from family import render
from live_exporter import TickingExporter, prometheus_scraping
from tools import require_tool

MODEL = "fraud-detector"
IDENTITY = {"model": MODEL, "model_version": "12", "environment": "production"}
QUICK = {"window": "5m", "for": "1m"}  # 10s and 2s at timeScale 1/30
MONITORS: list[dict[str, Any]] = [
    {"name": "score-drift", "kind": "prediction_drift", "method": "ks", "threshold": 0.2, **QUICK},
    {"name": "auc-decay", "kind": "concept_drift", "metric": "roc_auc", "threshold": 0.75, "labelDelay": "7d",
     **QUICK},
    {"name": "age-parity", "kind": "fairness", "metric": "demographic_parity_difference", "attribute": "age_band",
     "threshold": 0.1, **QUICK},
    {"name": "gpu-cost", "kind": "cost", "threshold": 0.002, "currency": "EUR", **QUICK},
    {"name": "hallucinations", "kind": "hallucination_rate", "threshold": "3%", **QUICK},
    {"name": "grounding", "kind": "grounding", "threshold": 0.8, **QUICK},
    {"name": "token-spend", "kind": "token_cost", "threshold": 0.002, "currency": "EUR",
     "pricePer1kTokens": {"input": 0.001, "output": 0.002}, **QUICK},
]
ALERTS = ["ScoreDrift", "AucDecay", "AgeParity", "GpuCost", "Hallucinations", "Grounding", "TokenSpend"]
STALENESS = ["DriftExporterStale", "DriftExporterMissing", "QualityExporterStale", "QualityExporterMissing",
             "FairnessExporterStale", "FairnessExporterMissing"]


@dataclass
class Values:
    """What the jobs report: gauges as they are, counters as rates per second."""

    prediction_drift: float = 0.05
    auc: float = 0.9
    parity: float = 0.05
    cost_per_inference: float = 0.001
    inferences: float = 5.0
    evaluated: float = 4.0
    hallucinated: float = 0.0
    grounding: float = 0.9
    tokens_per_request: float = 100.0  # each way: 0.0003 EUR a request at these prices
    requests: float = 4.0
    extra: dict[str, float] = field(default_factory=dict)


class Jobs(TickingExporter):
    """The exporter contract (docs/metrics.md) in prometheus_client metrics, counters advanced by a
    ticker at the rates of `values`, served by prometheus_client's own HTTP server on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        client = self.client
        self.values = Values()
        names = list(IDENTITY)
        r = self.registry
        self.gauges = {
            "prediction": client.Gauge("ml_prediction_drift_score", "", [*names, "method"], registry=r),
            "quality": client.Gauge("ml_quality_metric", "", [*names, "metric"], registry=r),
            "fairness": client.Gauge("ml_fairness_metric", "", [*names, "metric", "attribute"], registry=r),
        }
        self.last_runs = [client.Gauge(f"ml_{job}_last_run_timestamp_seconds", "", names, registry=r)
                          for job in ("drift", "quality", "fairness")]
        self.cost = client.Counter("ml_inference_cost", "", [*names, "currency"], registry=r)
        self.inferences = client.Counter("ml_inferences", "", names, registry=r)
        self.evaluated = client.Counter("ml_llm_evaluated_responses", "", names, registry=r)
        self.hallucinated = client.Counter("ml_llm_hallucinated_responses", "", names, registry=r)
        self.grounding = client.Summary("ml_llm_grounding_score", "", names, registry=r)
        self.tokens = client.Counter("ml_llm_tokens", "", [*names, "type"], registry=r)
        self.requests = client.Counter("ml_llm_requests", "", names, registry=r)
        self.serve()

    def step(self, dt: float) -> None:
        ident = IDENTITY
        v = self.values
        self.gauges["prediction"].labels(**ident, method="ks").set(v.prediction_drift)
        self.gauges["quality"].labels(**ident, metric="roc_auc").set(v.auc)
        self.gauges["fairness"].labels(**ident, metric="demographic_parity_difference",
                                       attribute="age_band").set(v.parity)
        for gauge in self.last_runs:
            gauge.labels(**ident).set(time.time())
        self.cost.labels(**ident, currency="EUR").inc(v.cost_per_inference * v.inferences * dt)
        self.inferences.labels(**ident).inc(v.inferences * dt)
        self.evaluated.labels(**ident).inc(v.evaluated * dt)
        self.hallucinated.labels(**ident).inc(v.hallucinated * dt)
        for _ in range(round(v.evaluated * dt * 10)):  # ten scores per tick and evaluated response
            self.grounding.labels(**ident).observe(v.grounding)
        for kind in ("input", "output"):
            self.tokens.labels(**ident, type=kind).inc(v.tokens_per_request * v.requests * dt)
        self.requests.labels(**ident).inc(v.requests * dt)


@dataclass
class Live:
    prometheus: str
    jobs: Jobs
    rules: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary = require_tool("prometheus")
    root = tmp_path_factory.mktemp("contract-live")

    rendered = render(root / "project", MONITORS, settings={"timeScale": 1 / 30})
    rules = rendered.dir() / "rules.yaml"
    jobs = Jobs()
    processes: list[Process] = []
    try:
        proc, url = prometheus_scraping(binary, root / "run", jobs, rules, "contract", honor_labels=True)
        processes.append(proc)
        yield Live(url, jobs, rules)
    finally:
        for proc in processes:
            proc.stop()
        jobs.close()


def test_contract_alerts_quiet_when_healthy_and_fire_on_their_fault(live: Live, record_property: Any,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    names = {r["alert"] for r in _rules(live.rules) if "alert" in r}
    assert names == set(ALERTS) | set(STALENESS), names
    wait_until(lambda: query(live.prometheus, f'ml:llm_evaluated:rate10s{{model="{MODEL}"}} > 3'), 40,
               "the jobs' series recorded by the rules")
    time.sleep(12)  # longer than the 10s windows: no start-up transient is left
    start = time.monotonic()
    while time.monotonic() - start < 10:
        assert not firing(live.prometheus), f"alerts while healthy: {sorted(firing(live.prometheus))}"
        time.sleep(1)

    t0 = time.monotonic()
    v = live.jobs.values
    v.prediction_drift, v.auc, v.parity = 0.5, 0.6, -0.3
    v.cost_per_inference, v.hallucinated, v.grounding, v.tokens_per_request = 0.01, 1.0, 0.3, 2000.0
    timings: dict[str, float] = {}

    def all_firing() -> bool:
        now = firing(live.prometheus)
        for name in ALERTS:
            if name in now and name not in timings:
                timings[name] = time.monotonic() - t0
        return all(name in now for name in ALERTS)

    try:
        wait_until(all_firing, 90, f"alerts {ALERTS} firing", interval=0.25)
    except AssertionError as exc:  # the message is made before the wait: say what fired by the end
        raise AssertionError(f"{exc}; fired: {sorted(timings)}") from None
    now = firing(live.prometheus)
    assert not set(now) & set(STALENESS), sorted(now)
    assert {now[a]["monitor"] for a in ALERTS} == {m["name"] for m in MONITORS}
    assert now["GpuCost"]["currency"] == now["TokenSpend"]["currency"] == "EUR"
    for name, seconds in sorted(timings.items()):
        record_property(f"fault_to_firing_{name}", round(seconds, 2))
    with capsys.disabled():
        print("\ncontract fault -> firing (s, windows 30x shorter): "
              + ", ".join(f"{n} {s:.1f}" for n, s in sorted(timings.items(), key=lambda x: x[1])))


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
