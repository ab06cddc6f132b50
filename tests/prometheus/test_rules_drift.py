"""The drift family (targets/prometheus/monitors/drift.py): data and prediction drift, and the drift
job's staleness alerts."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, prove_generated, render

MONITORS = [
    {"name": "feature-drift", "kind": "data_drift", "features": ["amount", "merchant", "country"], "method": "psi",
     "threshold": 0.2, "share": 0.5, "window": "1h", "for": "10m", "retrain": True},
    {"name": "score-drift", "kind": "prediction_drift", "method": "ks", "threshold": 0.2, "window": "1h",
     "for": "10m"},
]
# What the drift job pushes (docs/metrics.md), through a Pushgateway scraped with honor_labels.
SCRAPE = 'job="pushgateway", instance="pushgateway:9091"'
ID = 'model="fraud-detector", model_version="12", environment="production"'
LAST_RUN = f"ml_drift_last_run_timestamp_seconds{{{SCRAPE}, {ID}}}"
FRESH = {LAST_RUN: "0+60x300"}


def feature(name: str, method: str = "psi") -> str:
    return f'ml_feature_drift_score{{{SCRAPE}, {ID}, feature="{name}", method="{method}"}}'


def scores(amount: float, merchant: float, country: float) -> dict[str, str]:
    return {feature("amount"): f"{amount}x60", feature("merchant"): f"{merchant}x60",
            feature("country"): f"{country}x60"}


PREDICTION = f'ml_prediction_drift_score{{{SCRAPE}, {ID}, method="ks"}}'


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("drift"), MONITORS)


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["FeatureDriftFeature"] == got["FeatureDriftShare"] == got["ScoreDrift"] == ["fires+", "healthy"]
    assert got["DriftExporterStale"] == got["DriftExporterMissing"] == ["fires+", "healthy"]


def test_on_the_drift_jobs_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("one drifted feature of three: a per-feature info alert, the share (50%) not reached",
             {**scores(0.5, 0.1, 0.1), PREDICTION: "0.05x60", **FRESH}, "30m",
             fires=[("FeatureDriftFeature", {"feature": "amount", "severity": "info"})],
             quiet=["FeatureDriftShare", "ScoreDrift", "DriftExporterStale", "DriftExporterMissing"]),
        Case("two of three drifted: the share alert fires and asks for retraining",
             {**scores(0.5, 0.3, 0.1), PREDICTION: "0.05x60", **FRESH}, "30m",
             fires=[("FeatureDriftFeature", {"feature": "amount"}), ("FeatureDriftFeature", {"feature": "merchant"}),
                    ("FeatureDriftShare", {"retrain": "true"})]),
        Case("scores of another method and of unwatched features are not this monitor's",
             {**scores(0.1, 0.1, 0.1), feature("amount", "ks"): "0.9x60", feature("email"): "0.9x60",
              PREDICTION: "0.05x60", f'ml_prediction_drift_score{{{SCRAPE}, {ID}, method="psi"}}': "0.9x60",
              **FRESH}, "30m",
             quiet=["FeatureDriftFeature", "FeatureDriftShare", "ScoreDrift"]),
        Case("the prediction distribution drifted",
             {**scores(0.1, 0.1, 0.1), PREDICTION: "0.3x60", **FRESH}, "30m",
             fires=[("ScoreDrift", {"monitor": "score-drift"})], quiet=["FeatureDriftFeature"]),
        Case("a drift job that last ran three hours ago is stale",
             {**scores(0.1, 0.1, 0.1), LAST_RUN: "0x300"}, "3h",
             fires=[("DriftExporterStale", {"exporter": "drift", "severity": "critical"})],
             quiet=["DriftExporterMissing"]),
        Case("a drift job that never reported is missing",
             {f'up{{{SCRAPE}}}': "1x300"}, "3h", fires=[("DriftExporterMissing", {"exporter": "drift"})]),
    ])
