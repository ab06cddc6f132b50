"""The cost family (targets/prometheus/monitors/cost.py): accrued cost per inference."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, prove_generated, render

MONITORS = [{"name": "gpu-cost", "kind": "cost", "threshold": 0.002, "currency": "EUR", "window": "1h",
             "for": "10m"}]
SCRAPE = 'job="cost-exporter", instance="10.0.5.1:9100"'
ID = 'model="fraud-detector", model_version="12", environment="production"'


def spend(euro_per_s: float, inferences_per_s: float, currency: str = "EUR") -> dict[str, str]:
    """Counters growing at the given rates, sampled every minute."""
    return {f'ml_inference_cost_total{{{SCRAPE}, {ID}, currency="{currency}"}}': f"0+{euro_per_s * 60:g}x120",
            f"ml_inferences_total{{{SCRAPE}, {ID}}}": f"0+{inferences_per_s * 60:g}x120"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("cost"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    assert rendered.scenarios()["GpuCost"] == ["fires+", "healthy", "low-traffic"]


def test_on_the_cost_exporters_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("0.01 EUR per inference", spend(0.1, 10), "90m", fires=[("GpuCost", {"currency": "EUR"})]),
        Case("0.001 EUR per inference", spend(0.01, 10), "90m", quiet=["GpuCost"]),
        Case("expensive but under the traffic guard (0.1/s)", spend(0.01, 0.05), "90m", quiet=["GpuCost"]),
        Case("cost accrued in another currency is not this monitor's",
             {**spend(0.01, 10), **{k: v for k, v in spend(5, 10, "USD").items() if "USD" in k}}, "90m",
             quiet=["GpuCost"]),
    ])
