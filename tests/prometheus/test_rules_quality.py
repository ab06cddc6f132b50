"""The quality family (targets/prometheus/monitors/quality.py): concept drift from delayed labels, and
the evaluation job's staleness alerts."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, prove_generated, render

MONITORS = [
    {"name": "auc-decay", "kind": "concept_drift", "metric": "roc_auc", "threshold": 0.75, "labelDelay": "30d",
     "window": "1h", "for": "10m", "severity": "critical", "retrain": True,
     "runbook": "https://runbooks.example.com/auc"},
]
SCRAPE = 'job="evaluation", instance="10.0.4.2:9100"'
ID = 'model="churn-scorer", model_version="7", environment="production"'
LAST_RUN = f"ml_quality_last_run_timestamp_seconds{{{SCRAPE}, {ID}}}"


def quality(value: str, metric: str = "roc_auc") -> dict[str, str]:
    return {f'ml_quality_metric{{{SCRAPE}, {ID}, metric="{metric}"}}': value}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("quality"), MONITORS, base="churn-scorer")


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["AucDecay"] == ["fires+", "healthy"]
    assert got["QualityExporterStale"] == got["QualityExporterMissing"] == ["fires+", "healthy"]


def test_on_the_evaluation_jobs_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("AUC below its floor", {**quality("0.7x60"), LAST_RUN: "0+60x60"}, "30m",
             fires=[("AucDecay", {"severity": "critical", "retrain": "true"})],
             quiet=["QualityExporterStale", "QualityExporterMissing"]),
        Case("AUC at its floor is not below it", {**quality("0.75x60"), LAST_RUN: "0+60x60"}, "30m",
             quiet=["AucDecay"]),
        Case("another quality metric low is not this monitor's",
             {**quality("0.9x60"), **quality("0.1x60", "f1"), LAST_RUN: "0+60x60"}, "30m", quiet=["AucDecay"]),
        Case("an evaluation job that last ran three hours ago is stale",
             {**quality("0.9x300"), LAST_RUN: "0x300"}, "3h",
             fires=[("QualityExporterStale", {"exporter": "quality"})], quiet=["QualityExporterMissing"]),
        Case("an evaluation job that never reported is missing", quality("0.9x300"), "3h",
             fires=[("QualityExporterMissing", {"exporter": "quality"})], quiet=["QualityExporterStale"]),
    ])
