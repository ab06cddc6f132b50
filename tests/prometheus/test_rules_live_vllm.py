"""`token_cost`'s `maxPerDay` judged by the real thing: Debian's prometheus scrapes a stand-in for vLLM's
`/metrics` (prometheus_client counters under vLLM's own names, vllm/v1/metrics/loggers.py: Counter
`vllm:prompt_tokens` and `vllm:generation_tokens`, labels `model_name` and `engine`; the client appends
`_total`) and evaluates the rendered rule file. The scrape adds `namespace` and `pod`, as the cluster's
pod scrape would. The spec is rendered with `timeScale: 1/8640`, so the rule's day lasts 10s.

The daily budget must stay quiet while the model spends under it and another model on the same
server spends over it, and fire once the model itself spends over it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from behaviour_harness import Process, firing, query, wait_until
from family import render
from live_exporter import TickingExporter, prometheus_scraping
from tools import require_tool

MODEL = "support-assistant"
NAMESPACE = "support-ai-prod"
# 1 EUR a (10s) day at 0.0002/0.0006 EUR per 1k tokens: 125k tokens a second each way spend it.
MONITORS: list[dict[str, Any]] = [
    {"name": "token-spend", "kind": "token_cost", "threshold": 0.004, "maxPerDay": 1, "currency": "EUR",
     "pricePer1kTokens": {"input": 0.0002, "output": 0.0006}},
]
UNDER, OVER = 20_000.0, 500_000.0  # tokens a second each way: 0.16 and 4 EUR a day


class VllmStandIn(TickingExporter):
    """vLLM's token counters in prometheus_client, advanced by a ticker, for two served models."""

    def __init__(self) -> None:
        super().__init__()
        self.rates = {MODEL: UNDER, "other-assistant": OVER}
        labels = ["model_name", "engine"]
        self.counters = [self.client.Counter(name, "", labels, registry=self.registry)
                         for name in ("vllm:prompt_tokens", "vllm:generation_tokens")]
        self.serve()

    def step(self, dt: float) -> None:
        for model, rate in self.rates.items():
            for counter in self.counters:
                counter.labels(model_name=model, engine="0").inc(rate * dt)


@dataclass
class Live:
    prometheus: str
    vllm: VllmStandIn


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary = require_tool("prometheus")
    root = tmp_path_factory.mktemp("vllm-live")
    rendered = render(root / "project", MONITORS, base=MODEL, settings={"timeScale": 1 / 8640})
    vllm = VllmStandIn()
    processes: list[Process] = []
    try:
        proc, url = prometheus_scraping(binary, root / "run", vllm, rendered.dir() / "rules.yaml", "vllm",
                                        labels={"namespace": NAMESPACE, "pod": f"{MODEL}-kserve-7c9d5-x2x4q"})
        processes.append(proc)
        yield Live(url, vllm)
    finally:
        for proc in processes:
            proc.stop()
        vllm.close()


def test_daily_budget_on_vllms_token_counters(live: Live) -> None:
    spent = 'ml:llm_token_cost:increase1d{model="support-assistant", environment="production"}'
    try:
        wait_until(lambda: query(live.prometheus, f"{spent} > 0.05"), 40, "the model's spend recorded by the rules")
    except AssertionError:
        seen = query(live.prometheus, "{__name__=~\"vllm.*|ml:.*\"}")
        raise AssertionError(f"no spend recorded; series: {str(seen)[:3000]}") from None
    time.sleep(12)  # longer than the 10s day: no start-up transient is left
    start = time.monotonic()
    while time.monotonic() - start < 10:
        now = firing(live.prometheus)
        assert "TokenSpendDailyBudget" not in now, f"under budget (another model over it): {sorted(now)}"
        time.sleep(1)

    live.vllm.rates[MODEL] = OVER
    wait_until(lambda: "TokenSpendDailyBudget" in firing(live.prometheus), 40, "TokenSpendDailyBudget firing")
    labels = firing(live.prometheus)["TokenSpendDailyBudget"]
    assert (labels["currency"], labels["model"], labels["monitor"]) == ("EUR", MODEL, "token-spend")
