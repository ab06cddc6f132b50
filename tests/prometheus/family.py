"""Per-family promtool checks for tests/prometheus/test_<family>.py.

`render` renders an example spec with a family's monitors (the real pipeline, prometheus target only).
`prove_generated` runs `promtool check rules` and `promtool test rules` on the generated files: the
scenarios each family builds its alerts with. `judge` runs promtool on scenarios written here by
hand, with the series as an exporter following docs/metrics.md or the serving runtime
(compiler.monitoring.serving_metrics, GUIDE section 10) exposes them, after the scrape adds its target labels.
They are independent of the generator's own series code, so a rule and its generated scenarios
cannot agree on a label or metric name no real series has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tools import require_tool, run_tool

from compiler.pipeline import run
from golden import REPO, edited_example, registry_of
from targets.prometheus import PrometheusTarget


@dataclass
class Rendered:
    root: Path
    model: str

    def dir(self, env: str = "production") -> Path:
        return self.root / "models" / self.model / "prometheus" / env

    def rules(self, env: str = "production") -> list[dict[str, Any]]:
        data = yaml.safe_load((self.dir(env) / "rules.yaml").read_text())
        return [rule for group in data["groups"] for rule in group["rules"]]

    def scenarios(self, env: str = "production") -> dict[str, list[str]]:
        """alert name -> the names of its generated promtool scenarios, firing ones marked `+`."""
        tests = yaml.safe_load((self.dir(env) / "rules.test.yaml").read_text())["tests"]
        out: dict[str, list[str]] = {}
        for case in tests:
            (check,) = case["alert_rule_test"]
            scenario = case["name"].rsplit(": ", 1)[1]
            out.setdefault(check["alertname"], []).append(scenario + ("+" if check["exp_alerts"] else ""))
        return out


def render(tmp_path: Path, monitors: list[dict[str, Any]], *, base: str = "fraud-detector",
           edit: Callable[[dict[str, Any]], None] | None = None, settings: dict[str, Any] | None = None) -> Rendered:
    """`base` (an example spec) with `monitors` in place of its own, rendered to `tmp_path`; `settings`:
    the project's `targets.prometheus` (a project file in `tmp_path`)."""
    def change(data: dict[str, Any]) -> None:
        names = {m["name"] for m in monitors}
        data["monitors"] = monitors
        rollout = data.get("rollout") or {}
        for key in ("advanceWhenQuiet", "rollbackOn"):
            if key in rollout:
                rollout[key] = [n for n in rollout[key] if n in names]
        if edit is not None:
            edit(data)

    spec = edited_example(tmp_path / "specs", change, base)
    root = REPO
    if settings is not None:
        project = {"apiVersion": "mlspec/v1", "kind": "Project", "targets": {"prometheus": settings}}
        (tmp_path / "mlspec.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        root = tmp_path
    result = run([spec], root=root, render=True, registry=registry_of(PrometheusTarget()), jobs=1)
    assert result.ok, "\n".join(d.to_text() for d in result.diagnostics)
    out = tmp_path / "out"
    for rel, data in result.files().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return Rendered(out, base)


def prove_generated(rendered: Rendered) -> None:
    promtool = require_tool("promtool")
    for rules in sorted(rendered.root.rglob("rules.yaml")):
        for args in (["check", "rules", "rules.yaml"], ["test", "rules", "rules.test.yaml"]):
            result = run_tool([promtool, *args], cwd=rules.parent)
            where = f"promtool {' '.join(args)} in {rules.parent}"
            assert result.returncode == 0, f"{where}:\n{result.stdout}{result.stderr}"


@dataclass
class Case:
    """Constant input series (`series` -> a promtool value expression over the test), evaluated at `at`.

    `fires`: (alert, labels) pairs, each exactly one firing alert of that name carrying those labels;
    `quiet`: alerts that must not fire at all.
    """

    name: str
    series: Mapping[str, str]
    at: str
    fires: Sequence[tuple[str, Mapping[str, str]]] = ()
    quiet: Sequence[str] = ()
    interval: str = "1m"


def _matchers(alert: str, labels: Mapping[str, str]) -> str:
    pairs = {"alertname": alert, "alertstate": "firing", **labels}
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs.items())


def judge(rendered: Rendered, cases: Sequence[Case], env: str = "production", evaluation: str = "1m") -> None:
    """promtool on hand-written `cases` against the rendered rule file of `env`."""
    promtool = require_tool("promtool")
    tests = []
    for case in cases:
        checks: list[dict[str, Any]] = []
        for alert, labels in case.fires:
            checks.append({"expr": f"count(ALERTS{{{_matchers(alert, labels)}}})", "eval_time": case.at,
                           "exp_samples": [{"labels": "{}", "value": 1}]})
        for alert in case.quiet:
            checks.append({"expr": f"ALERTS{{{_matchers(alert, {})}}}", "eval_time": case.at, "exp_samples": []})
        assert checks, f"{case.name}: a case must expect something"
        tests.append({"name": case.name, "interval": case.interval,
                      "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                      "promql_expr_test": checks})
    path = rendered.dir(env) / "handwritten.test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": evaluation,
                                    "tests": tests}, sort_keys=False))
    result = run_tool([promtool, "test", "rules", path.name], cwd=path.parent)
    assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"


# The KServe Python model server's exposition (kserve/kserve python/kserve/kserve/metrics.py, run live in
# tests/test_behaviour.py): a prometheus_client histogram with its default buckets, spelled the way
# prometheus_client spells them, one label `model_name`; the scrape adds namespace, pod, job, instance.
KSERVE_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0",
                  "7.5", "10.0", "+Inf")


def kserve(model: str, namespace: str, *, rate: float, latency: float, failures: float | None = 0.0,
           samples: int = 200) -> dict[str, str]:
    """Series of a predictor serving `rate` requests per second, each taking `latency` seconds, a share
    `failures` of them failing (counted in the exporter contract's ml_inference_errors_total; None: the
    predictor does not export that counter)."""
    scrape = (f'namespace="{namespace}", pod="{model}-predictor-00001-deployment-7d9f8", job="kserve", '
              f'instance="10.0.1.5:8080", model_name="{model}"')

    def grows(per_s: float) -> str:
        return f"0+{per_s * 60:g}x{samples}"

    out = {f'request_predict_seconds_bucket{{{scrape}, le="{le}"}}':
           grows(rate if le == "+Inf" or latency <= float(le) else 0.0) for le in KSERVE_BUCKETS}
    out[f"request_predict_seconds_count{{{scrape}}}"] = grows(rate)
    out[f"request_predict_seconds_sum{{{scrape}}}"] = grows(rate * latency)
    if failures is not None:
        out[f"ml_inference_errors_total{{{scrape}}}"] = grows(rate * failures)
    return out
