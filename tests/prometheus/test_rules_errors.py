"""The errors family (targets/prometheus/monitors/errors.py): the error ratio on the KServe server's
request count and the exporter contract's failure counter, and the alert when that counter is missing."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, kserve, prove_generated, render

MONITORS = [{"name": "error-rate", "kind": "error_rate", "threshold": "1%", "window": "5m", "for": "2m",
             "severity": "critical", "failures": "exporter", "runbook": "https://runbooks.example.com/errors"}]


def served(rate: float, failures: float | None) -> dict[str, str]:
    return kserve("fraud-detector", "risk-prod", rate=rate, latency=0.05, failures=failures)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("errors"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["ErrorRate"] == ["fires+", "healthy", "low-traffic"]
    assert got["ErrorRateErrorCounterMissing"] == ["fires+", "healthy"]


def test_on_the_kserve_servers_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("10% of requests fail", served(10, 0.1), "20m",
             fires=[("ErrorRate", {"severity": "critical"})], quiet=["ErrorRateErrorCounterMissing"]),
        Case("the counter is exported at 0: no failures", served(10, 0.0), "20m",
             quiet=["ErrorRate", "ErrorRateErrorCounterMissing"]),
        Case("0.5% fail", served(10, 0.005), "20m", quiet=["ErrorRate"]),
        Case("all fail, under the rollout's guard (100 requests in 5m)", served(0.1, 1.0), "20m",
             quiet=["ErrorRate"]),
        Case("the predictor lost the counter: the ratio is blind, and says so",
             served(10, None), "20m",
             fires=[("ErrorRateErrorCounterMissing", {"monitor": "error-rate", "severity": "warning"})],
             quiet=["ErrorRate"]),
        Case("no traffic and no counter: nothing to say", {'up{job="kserve"}': "1x200"}, "20m",
             quiet=["ErrorRate", "ErrorRateErrorCounterMissing"]),
    ])
