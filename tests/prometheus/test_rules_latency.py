"""The latency family (targets/prometheus/monitors/latency.py), on the KServe server's histogram."""

from __future__ import annotations

import pytest
from family import KSERVE_BUCKETS, Case, Rendered, judge, kserve, prove_generated, render
from tools import require_module

MONITORS = [{"name": "latency-p99", "kind": "latency", "quantile": 0.99, "threshold": "250ms", "window": "5m",
             "for": "2m", "severity": "critical", "runbook": "https://runbooks.example.com/latency"}]


def served(rate: float, latency: float) -> dict[str, str]:
    return kserve("fraud-detector", "risk-prod", rate=rate, latency=latency)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("latency"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    assert rendered.scenarios()["LatencyP99"] == ["fires+", "healthy", "low-traffic"]


def test_on_the_kserve_servers_histogram(rendered: Rendered) -> None:
    judge(rendered, [
        Case("every request takes 0.4s", served(10, 0.4), "20m",
             fires=[("LatencyP99", {"quantile": "0.99", "severity": "critical"})]),
        Case("every request takes 0.1s", served(10, 0.1), "20m", quiet=["LatencyP99"]),
        Case("slow, but under the rollout's guard (100 requests in 5m)", served(0.1, 0.4), "20m",
             quiet=["LatencyP99"]),
        Case("another namespace's slow predictor of the same name is not this one",
             {**served(10, 0.1), **kserve("fraud-detector", "risk-staging", rate=10, latency=2)}, "20m",
             quiet=["LatencyP99"]),
    ])


def test_the_hand_written_buckets_are_how_prometheus_client_spells_its_defaults() -> None:
    client = require_module("prometheus_client")
    from prometheus_client.utils import floatToGoString

    assert tuple(floatToGoString(b) for b in client.Histogram.DEFAULT_BUCKETS) == KSERVE_BUCKETS
