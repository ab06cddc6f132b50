"""Measure the rollout against a real Prometheus on loopback (docs/rollout.md, "Measurements").

1. Alert to rollback: `advance --wait` holds a healthy stage; the exporter then turns slow. Reported:
   violation -> alert firing (the rule's window fill plus `for:`, Prometheus' part), and alert firing
   (activeAt + for, Prometheus' clock) -> rollback commit landed (mlspec's part).
2. A full shadow -> 5 -> 25 -> 50 -> 100 walk with every stage held `--hold` seconds.

    .venv/bin/python scripts/rollout_bench.py [--hold 2] [--interval 0.5] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import git
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the local Prometheus and exporter the live tests use

from rollout_harness import Exporter, LocalPrometheus, Traffic, rollout_spec  # noqa: E402

from compiler.deploy.commit import commit  # noqa: E402
from compiler.rollout.engine import Options, Result, advance  # noqa: E402

NAMESPACE = "risk-prod"


def _setup(work: Path, holds: dict[str, str]) -> tuple[Path, Path]:
    project, repo = work / "project", work / "deploy"
    (project / "specs").mkdir(parents=True)
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    base = yaml.safe_load((ROOT / "specs" / "fraud-detector.yaml").read_text())
    for name, hold in holds.items():
        (project / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(rollout_spec(base, name, hold)))
    git.Repo.init(repo)
    with git.Repo(repo).config_writer() as config:
        config.set_value("user", "name", "bench").set_value("user", "email", "bench@example.com")
    commit(repo, root=project)
    return project, repo


def _firing_at(url: str, model: str) -> float | None:
    """Unix time the model's first alert started firing: activeAt + for, on Prometheus' clock."""
    with urllib.request.urlopen(f"{url}/api/v1/rules?type=alert", timeout=5) as response:
        data = json.load(response)
    times = []
    for group in data["data"]["groups"]:
        for rule in group["rules"]:
            for alert in rule.get("alerts", []):
                if alert["labels"].get("model") == model and alert["state"] == "firing":
                    active = datetime.fromisoformat(alert["activeAt"].replace("Z", "+00:00")).timestamp()
                    times.append(active + float(rule.get("duration", 0)))
    return min(times) if times else None


def alert_to_rollback(binary: str, interval: float, runs: int) -> list[dict[str, float]]:
    out = []
    for run in range(runs):
        model = f"bench-rb{run}"
        with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as tmp:
            project, repo = _setup(Path(tmp), {model: "1h"})
            rules = [repo / f"models/{model}/prometheus/production/rules.yaml"]
            with Exporter() as exporter, LocalPrometheus(binary, rules, [f"127.0.0.1:{exporter.port}"]) as prom:
                exporter.set(model, NAMESPACE, Traffic(ok=50, latency=0.02))
                opts = Options(model, repo, prometheus=prom.url, specs=[project / "specs"], push=False)
                done: dict[str, Any] = {}

                def drive(opts: Options = opts, done: dict[str, Any] = done) -> None:
                    done["result"] = advance(opts, wait=True, timeout=120, interval=interval)
                    done["landed"] = time.time()

                thread = threading.Thread(target=drive)
                thread.start()
                time.sleep(3)  # the wait loop is running and the healthy series exist
                violated = time.time()
                exporter.set(model, NAMESPACE, Traffic(ok=50, latency=0.4))
                thread.join(timeout=120)
                result: Result = done["result"]
                if result.code != 1 or "rolled back" not in result.lines[-1]:
                    raise SystemExit(f"expected a rollback: {result.lines}")
                fired = _firing_at(prom.url, model)
                if fired is None:
                    raise SystemExit("no firing alert found")
                out.append({"violation_to_firing": fired - violated, "firing_to_commit": done["landed"] - fired,
                            "violation_to_commit": done["landed"] - violated})
    return out


def full_walk(binary: str, hold: float, interval: float) -> dict[str, Any]:
    model = "bench-walk"
    with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as tmp:
        project, repo = _setup(Path(tmp), {model: f"{hold:g}s"})
        rules = [repo / f"models/{model}/prometheus/production/rules.yaml"]
        with Exporter() as exporter, LocalPrometheus(binary, rules, [f"127.0.0.1:{exporter.port}"]) as prom:
            exporter.set(model, NAMESPACE, Traffic(ok=50, latency=0.02))
            opts = Options(model, repo, prometheus=prom.url, specs=[project / "specs"], push=False)
            steps = []
            start = time.monotonic()
            while True:
                began = time.monotonic()
                result = advance(opts, wait=True, timeout=120, interval=interval)
                if result.code != 0:
                    raise SystemExit(f"walk failed: {result.lines}")
                if not result.sha:  # at `full`: nothing left
                    break
                steps.append({"step": result.lines[-1].split(": ", 1)[1].split(" (")[0],
                              "seconds": time.monotonic() - began})
            total = time.monotonic() - start
            commits = len(list(git.Repo(repo).iter_commits()))
    return {"hold_seconds": hold, "steps": steps, "total_seconds": total, "commits": commits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=2.0, help="seconds every walk stage is held")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between gate checks")
    parser.add_argument("--runs", type=int, default=3, help="alert-to-rollback repetitions")
    args = parser.parse_args()
    binary = shutil.which("prometheus")
    if binary is None:
        print("prometheus is not installed (apt-get install prometheus)", file=sys.stderr)
        return 2
    rollbacks = alert_to_rollback(binary, args.interval, args.runs)
    print(f"alert -> rollback ({args.runs} runs, check interval {args.interval}s, monitor window 10s, for 2s):")
    for key in ("violation_to_firing", "firing_to_commit", "violation_to_commit"):
        values = [r[key] for r in rollbacks]
        print(f"  {key:20} median {statistics.median(values):6.2f}s  max {max(values):6.2f}s")
    walk = full_walk(binary, args.hold, args.interval)
    print(f"full walk, every stage held {walk['hold_seconds']:g}s ({walk['commits']} commits incl. the first render):")
    for step in walk["steps"]:
        print(f"  {step['step']:24} {step['seconds']:6.2f}s")
    print(f"  {'total':24} {walk['total_seconds']:6.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
