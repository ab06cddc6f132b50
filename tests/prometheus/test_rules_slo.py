"""The SLO family (targets/prometheus/monitors/slo.py): burn-rate alerts on the availability and the
latency error budget, on the KServe server's series."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, kserve, prove_generated, render

MONITORS = [
    {"name": "availability", "kind": "slo", "objective": 99, "period": "30d", "failures": "exporter",
     "severity": "critical", "runbook": "https://runbooks.example.com/slo"},
    {"name": "fast-replies", "kind": "slo", "sli": "latency", "latency": "250ms", "objective": 95, "period": "30d"},
]
ALL = ["AvailabilityBurnRatePage", "AvailabilityBurnRateTicket", "FastRepliesBurnRatePage",
       "FastRepliesBurnRateTicket"]


def served(rate: float, latency: float, failures: float) -> dict[str, str]:
    return kserve("fraud-detector", "risk-prod", rate=rate, latency=latency, failures=failures)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("slo"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert all(got[name] == ["fires+", "healthy", "low-traffic"] for name in ALL), got


def test_on_the_kserve_servers_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("fast and no failures", served(10, 0.1, 0), "90m", quiet=ALL),
        Case("half the requests fail: both availability tiers burn (14.4x and 3x of 1%)", served(10, 0.1, 0.5), "90m",
             fires=[("AvailabilityBurnRatePage", {"slo": "availability", "severity": "critical"}),
                    ("AvailabilityBurnRateTicket", {"slo": "availability", "severity": "warning"})],
             quiet=["FastRepliesBurnRatePage", "FastRepliesBurnRateTicket"]),
        Case("0.5% fail: within the budget", served(10, 0.1, 0.005), "90m", quiet=ALL),
        Case("every request takes 0.4s: the latency budget burns", served(10, 0.4, 0), "90m",
             fires=[("FastRepliesBurnRatePage", {"slo": "fast-replies"})],
             quiet=["AvailabilityBurnRatePage", "AvailabilityBurnRateTicket"]),
        Case("all fail, under the page tier's guard (100 requests in 5m)", served(0.1, 0.1, 1.0), "90m",
             quiet=["AvailabilityBurnRatePage"]),
    ])
