"""The throughput family (targets/prometheus/monitors/throughput.py) on the KServe server's request count."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, kserve, prove_generated, render

MONITORS = [{"name": "request-volume", "kind": "throughput", "min": 0.5, "max": 40, "window": "5m", "for": "2m"}]


def served(rate: float) -> dict[str, str]:
    return kserve("fraud-detector", "risk-prod", rate=rate, latency=0.05)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("throughput"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["RequestVolumeLow"] == got["RequestVolumeHigh"] == ["fires+", "healthy"]


def test_on_the_kserve_servers_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("10 requests per second", served(10), "20m", quiet=["RequestVolumeLow", "RequestVolumeHigh"]),
        Case("0.1 per second", served(0.1), "20m", fires=[("RequestVolumeLow", {})], quiet=["RequestVolumeHigh"]),
        Case("no series at all counts as no traffic", {'up{job="kserve"}': "1x200"}, "20m",
             fires=[("RequestVolumeLow", {})]),
        Case("100 per second", served(100), "20m", fires=[("RequestVolumeHigh", {})], quiet=["RequestVolumeLow"]),
        Case("another model's traffic is not this model's",
             {**kserve("other", "risk-prod", rate=10, latency=0.05)}, "20m", fires=[("RequestVolumeLow", {})]),
    ])
