"""Generate N varied, valid model specs for the benchmark: `python scripts/gen_specs.py N DIR`.

Specs differ in name, team, risk tier, serving pattern, number of steps, gates and monitors, and are
written as block YAML of realistic size, so linting them exercises the same paths real specs do.
Deterministic: spec i is always the same.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path
from typing import Any

import yaml

TEAMS = ["risk-ml", "growth-ml", "search-ml", "ads-ml", "payments-ml", "support-ai", "retail-vision", "ops-ml"]
FRAMEWORKS = ["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "huggingface", "custom"]
PATTERNS = ["realtime", "realtime", "batch", "streaming", "edge"]
STEP_NAMES = ["extract", "validate-data", "featurize", "train", "tune", "evaluate", "explain", "register"]
QUALITY = ["auc", "accuracy", "f1", "pr_auc", "ndcg"]


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _monitors(rng: random.Random, pattern: str, features: list[str], high: bool) -> list[dict[str, Any]]:
    live = pattern in ("realtime", "streaming")
    monitors: list[dict[str, Any]] = [
        {"name": "feature-drift", "kind": "data_drift", "features": rng.sample(features, 2), "threshold": 0.2,
         "retrain": True},
        {"name": "prediction-drift", "kind": "prediction_drift", "method": rng.choice(["psi", "js", "ks"]),
         "threshold": 0.1},
    ]
    if live:
        monitors += [
            {"name": "latency-p99", "kind": "latency", "quantile": 0.99, "threshold": f"{rng.choice([50, 150, 300])}ms",
             "severity": "critical", "runbook": "https://runbooks.example.com/latency"},
            {"name": "error-rate", "kind": "error_rate", "threshold": f"{rng.choice([1, 2, 5])}%",
             "failures": "exporter"},  # KServe counts no failures: the predictor exports the counter
        ]
        if rng.random() < 0.5:
            monitors.append({"name": "availability", "kind": "slo", "objective": 99.9, "period": "30d"})
        if rng.random() < 0.3:
            monitors.append({"name": "traffic", "kind": "throughput", "min": 1, "max": 500})
    if rng.random() < 0.4:
        monitors.append({"name": "label-quality", "kind": "concept_drift", "metric": "auc", "threshold": 0.7,
                         "labelDelay": "7d"})
    if high or rng.random() < 0.3:
        monitors.append({"name": "group-parity", "kind": "fairness", "attribute": "region", "threshold": 0.1})
    if rng.random() < 0.3:
        monitors.append({"name": "unit-cost", "kind": "cost", "threshold": 0.001})
    return monitors


def make_spec(index: int) -> dict[str, Any]:
    rng = random.Random(index)
    name = f"model-{index:04d}"
    team = TEAMS[index % len(TEAMS)]
    pattern = PATTERNS[index % len(PATTERNS)]
    risk = "high" if pattern in ("realtime", "streaming") and rng.random() < 0.3 else rng.choice(["minimal", "limited"])
    high = risk == "high"
    version = str(rng.randint(1, 400))
    previous = str(int(version) + 1000)
    features: list[dict[str, Any]] = [{"name": f"f{j}", "type": rng.choice(["float", "int", "category"])}
                                      for j in range(rng.randint(3, 12))]
    feature_names = [f["name"] for f in features] + ["region"]
    features.append({"name": "region", "type": "category", "allowed": ["eu", "us", "apac"]})
    count = rng.randint(2, 6)
    steps: list[dict[str, Any]] = []
    names = [*[n for n in STEP_NAMES if n != "evaluate"][:count - 1], "evaluate"]
    metric = rng.choice(QUALITY)
    for j, step_name in enumerate(names):
        step: dict[str, Any] = {"name": step_name, "command": ["python", "-m", f"pkg.{step_name.replace('-', '_')}"]}
        if j:
            step["after"] = [names[j - 1]]
        if step_name == "train":
            step["resources"] = {"cpu": "4", "memory": "16Gi", "gpu": rng.choice([0, 1])}
            step["retries"] = rng.randint(0, 3)
        if step_name == "evaluate":
            step["metrics"] = [metric, "latency_p99_ms"]
        steps.append(step)
    spec: dict[str, Any] = {
        "apiVersion": "mlspec/v1",
        "kind": "Model",
        "metadata": {"name": name, "team": team, "risk": risk,
                     "description": f"Generated benchmark model {index} ({pattern}, {risk} risk)."},
        "owners": [
            {"name": "Owner", "email": f"{name}-owner@example.com", "roles": ["owner", "approver"],
             "github": f"@acme/{team}"},
            {"name": "On-call", "email": f"{team}-oncall@example.com", "roles": ["oncall"]},
        ],
        "modelCard": {"intendedUse": "Benchmarking the compiler.", "limitations": "Synthetic.",
                      "trainingData": "Synthetic.", "evaluationData": "Synthetic."},
        "data": {"dataset": f"{name}-data", "version": f"2026.{index % 12 + 1}.0",
                 "dvc": {"path": f"data/{name}.parquet", "md5": _hex(name, 32)}, "features": features},
        "model": {"framework": FRAMEWORKS[index % len(FRAMEWORKS)], "version": version,
                  "uri": f"s3://models/{name}/{version}",
                  "code": {"repo": f"https://github.com/acme/{name}", "commit": _hex(name + "code", 40)},
                  "previous": {"version": previous, "uri": f"s3://models/{name}/{previous}"}},
        "pipeline": {"image": f"ghcr.io/acme/{name}-train:{version}", "schedule": f"{index % 60} {index % 24} * * *",
                     "steps": steps, "retraining": {"onDrift": True, "cooldown": "24h"}},
        "gates": [{"metric": metric, "min": round(rng.uniform(0.6, 0.9), 3), "baseline": {"tolerance": 0.01}},
                  {"metric": "latency_p99_ms", "max": rng.choice([20, 50, 200])}],
        "serving": {"pattern": pattern,
                    "environments": {"staging": {"namespace": f"{team}-staging"},
                                     "production": {"namespace": f"{team}-prod",
                                                    "replicas": {"min": 2, "max": rng.randint(2, 20)}}}},
        "monitors": _monitors(rng, pattern, feature_names[:-1], high),
    }
    if spec["model"]["framework"] == "custom":
        spec["model"]["runtime"] = "acme-custom-runtime"
    if pattern == "batch":
        spec["serving"]["batch"] = {"schedule": "0 4 * * 1", "input": f"s3://in/{name}/", "output": f"s3://out/{name}/"}
    elif pattern == "streaming":
        spec["serving"]["stream"] = {"bootstrapServers": ["kafka:9092"], "topic": f"{name}.events"}
    elif pattern == "edge":
        spec["serving"]["edge"] = {"format": "onnx", "devices": ["jetson-orin"]}
    if pattern in ("realtime", "streaming"):
        rollout: dict[str, Any] = {"canary": [{"traffic": 10, "duration": "1h"}, {"traffic": 50, "duration": "1h"}],
                                   "advanceWhenQuiet": ["latency-p99", "error-rate"], "rollbackOn": ["error-rate"]}
        if high or rng.random() < 0.3:
            rollout["shadow"] = {"duration": "24h", "mirror": 100}
            rollout["manualApproval"] = True
        spec["rollout"] = rollout
    if spec["model"]["framework"] == "onnx":  # Triton serves it: no latency histogram (docs/metrics.md)
        spec["monitors"] = [m for m in spec["monitors"] if m["kind"] != "latency"]
        if "rollout" in spec:
            spec["rollout"]["advanceWhenQuiet"] = ["error-rate"]
    return spec


def generate(count: int, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"model-{index:04d}.yaml"
        text = yaml.safe_dump(make_spec(index), sort_keys=False, default_flow_style=False, width=120)
        path.write_text("# yaml-language-server: $schema=../docs/mlspec-v1.schema.json\n" + text)
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit():
        print("usage: gen_specs.py N DIR", file=sys.stderr)
        return 2
    generate(int(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
