"""The fairness family (targets/prometheus/monitors/fairness.py) and its job's staleness alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from family import Case, Rendered, judge, prove_generated, render

MONITORS = [
    {"name": "age-parity", "kind": "fairness", "metric": "demographic_parity_difference", "attribute": "age_band",
     "threshold": 0.1, "window": "1h", "for": "10m"},
    {"name": "impact", "kind": "fairness", "metric": "disparate_impact", "attribute": "gender", "threshold": 0.8,
     "window": "1h", "for": "10m"},
]
# What the fairness job exports (docs/metrics.md), with the labels its scrape adds.
SCRAPE = 'job="fairness-job", instance="10.0.3.7:9100"'
ID = 'model="fraud-detector", model_version="12", environment="production"'


def metric(name: str, attribute: str, *, model: str = "fraud-detector") -> str:
    ident = ID.replace('"fraud-detector"', f'"{model}"')
    return f'ml_fairness_metric{{{SCRAPE}, {ident}, metric="{name}", attribute="{attribute}"}}'


FRESH = {f"ml_fairness_last_run_timestamp_seconds{{{SCRAPE}, {ID}}}": "0+60x300"}  # ran a moment ago


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("fairness"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["AgeParity"] == got["Impact"] == ["fires+", "healthy"]
    assert got["FairnessExporterStale"] == got["FairnessExporterMissing"] == ["fires+", "healthy"]


def test_on_the_fairness_jobs_series(tmp_path: Path, rendered: Rendered) -> None:
    judge(rendered, [
        Case("a negative parity difference beyond the threshold fires",
             {metric("demographic_parity_difference", "age_band"): "-0.15x60",
              metric("disparate_impact", "gender"): "0.95x60", **FRESH}, "30m",
             fires=[("AgeParity", {"monitor": "age-parity", "severity": "warning"})],
             quiet=["Impact", "FairnessExporterStale", "FairnessExporterMissing"]),
        Case("disparate impact below its floor fires; parity within bounds is quiet",
             {metric("demographic_parity_difference", "age_band"): "0.05x60",
              metric("disparate_impact", "gender"): "0.7x60", **FRESH}, "30m",
             fires=[("Impact", {"monitor": "impact"})], quiet=["AgeParity"]),
        Case("a bad value shorter than for: is quiet",
             {metric("demographic_parity_difference", "age_band"): "0.05x20 0.5x60",
              metric("disparate_impact", "gender"): "0.9x60", **FRESH}, "25m", quiet=["AgeParity", "Impact"]),
        Case("another model's bad metrics are not this model's",
             {metric("demographic_parity_difference", "age_band", model="other"): "0.9x60",
              metric("disparate_impact", "gender", model="other"): "0.1x60",
              metric("demographic_parity_difference", "age_band"): "0x60",
              metric("disparate_impact", "gender"): "1x60", **FRESH}, "30m", quiet=["AgeParity", "Impact"]),
        Case("a job that last ran three hours ago is stale (2 x the 1h window)",
             {metric("demographic_parity_difference", "age_band"): "0x300",
              f"ml_fairness_last_run_timestamp_seconds{{{SCRAPE}, {ID}}}": "0x300"}, "3h",
             fires=[("FairnessExporterStale", {"exporter": "fairness", "severity": "critical"})],
             quiet=["FairnessExporterMissing", "AgeParity"]),
        Case("a job that never reported is missing",
             {metric("demographic_parity_difference", "age_band"): "0x300"}, "3h",
             fires=[("FairnessExporterMissing", {"exporter": "fairness"})], quiet=["FairnessExporterStale"]),
    ])
