"""`mlspec rollout advance` against a real Prometheus (Debian's /usr/bin/prometheus) on loopback.

One Prometheus evaluates the rendered rule files of four variants of the fraud-detector spec (short
stage holds, 10 s windows, `for: 2s`) and scrapes an exporter this module controls, in the KServe
stack's metric names: `fd-healthy` serves fast, `fd-slow` breaks its p99 latency, `fd-failing` fails
half its requests, `fd-idle` serves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from click.testing import CliRunner
from rollout_harness import Exporter, LocalPrometheus, Traffic, rollout_spec, wait_for
from tools import REPO_ROOT, require_tool

from compiler.cli import cli
from compiler.deploy.commit import commit
from compiler.live.prometheus import query
from compiler.rollout.engine import Options, advance

NAMESPACE = "risk-prod"
KUSTOMIZATION = "models/{}/kserve/production/kustomization.yaml"
HOLDS = {"fd-healthy": "3s", "fd-slow": "3s", "fd-failing": "1h", "fd-idle": "1s"}
# Models only the gate's fail-open tests use, each judged by a Prometheus of its own.
SOLO = {"fd-norules": ("2s", "2s"), "fd-fresh": ("2s", "30s")}  # name: (hold, for:)


@dataclass
class Live:
    project: Path
    repo: Path
    url: str
    exporter: Exporter
    binary: str
    root: Path

    def options(self, model: str) -> Options:
        return Options(model, self.repo, prometheus=self.url, specs=[self.project / "specs"], push=False)

    def active(self, model: str) -> str:
        data = yaml.safe_load((self.repo / KUSTOMIZATION.format(model)).read_text())
        return str(data["resources"][-1])

    def head(self) -> str:
        return str(git.Repo(self.repo).head.commit.hexsha)

    def last_record(self, model: str) -> dict[str, Any]:
        lines = (self.repo / "audit" / f"{model}.jsonl").read_text().splitlines()
        record: dict[str, Any] = json.loads(lines[-1])
        return record

    def firing(self, model: str) -> bool:
        return bool(query(self.url, f'ALERTS{{alertstate="firing", model="{model}"}}'))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary = require_tool("prometheus")
    root = tmp_path_factory.mktemp("rollout-live")
    project, repo = root / "project", root / "deploy"
    (project / "specs").mkdir(parents=True)
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    base = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())
    for name, hold in HOLDS.items():
        spec = rollout_spec(base, name, hold)
        (project / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for name, (hold, for_) in SOLO.items():
        spec = rollout_spec(base, name, hold, for_=for_)
        (project / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    git.Repo.init(repo)
    with git.Repo(repo).config_writer() as config:
        config.set_value("user", "name", "Rollout Test").set_value("user", "email", "rollout@example.com")
    assert commit(repo, root=project).status == "committed"
    rules = [repo / f"models/{name}/prometheus/production/rules.yaml" for name in HOLDS]
    exporter = Exporter().start()
    try:
        exporter.set("fd-healthy", NAMESPACE, Traffic(ok=50, latency=0.02))
        # The shadow stage's gate counts the shadow's own series: the primary's model name on its pods.
        exporter.set("fd-healthy", NAMESPACE, Traffic(ok=50, latency=0.02), pod="fd-healthy-shadow-predictor-0")
        exporter.set("fd-slow", NAMESPACE, Traffic(ok=50, latency=0.4))
        exporter.set("fd-failing", NAMESPACE, Traffic(ok=25, failed=25, latency=0.02))
        with LocalPrometheus(binary, rules, [f"127.0.0.1:{exporter.port}"], root / "prometheus") as prom:
            yield Live(project, repo, prom.url, exporter, binary, root)
    finally:
        exporter.close()


def test_healthy_metrics_advance_to_the_next_stage(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSPEC_ACTOR", "https://ci.example.com/run/1")
    assert live.active("fd-healthy") == "stages/shadow"
    result = advance(live.options("fd-healthy"), wait=True, timeout=40, interval=0.5)
    assert result.code == 0, result.lines
    assert live.active("fd-healthy") == "stages/canary-5"
    record = live.last_record("fd-healthy")
    assert (record["event"], record["where"]["stage"], record["actor"]) == ("promote", "canary-5",
                                                                          "https://ci.example.com/run/1")
    checks = {c["check"]: c for c in record["evidence"]["checks"]}
    assert all(c["passed"] for c in checks.values())
    assert checks["traffic"]["result"][0]["value"] >= 20
    assert "request_predict_seconds_count" in checks["traffic"]["query"]
    message = git.Repo(live.repo).head.commit.message
    assert "Rollout-Stage: canary-5" in message
    assert "Spec: specs/fd-healthy.yaml" in message
    assert not live.firing("fd-healthy")


def test_latency_violation_fires_refuses_and_commits_the_rollback(live: Live) -> None:
    wait_for(lambda: live.firing("fd-slow"), timeout=40)
    result = advance(live.options("fd-slow"))
    assert result.code == 1, result.lines
    assert live.active("fd-slow") == "stages/rollback"
    record = live.last_record("fd-slow")
    assert record["event"] == "rollback"
    fired = {c["check"]: c for c in record["evidence"]["checks"]}["rollback"]
    assert [r["labels"]["alertname"] for r in fired["result"]] == ["LatencyP99"]
    rolled_back = live.head()
    again = advance(live.options("fd-slow"))  # a rolled-back version never advances again
    assert again.code == 1
    assert live.head() == rolled_back


def test_error_violation_while_waiting_rolls_back(live: Live) -> None:
    # A one-hour hold: the gate can only end by the error alert firing during --wait.
    result = advance(live.options("fd-failing"), wait=True, timeout=40, interval=0.5)
    assert result.code == 1, result.lines
    assert live.active("fd-failing") == "stages/rollback"
    fired = {c["check"]: c for c in live.last_record("fd-failing")["evidence"]["checks"]}["rollback"]
    assert {r["labels"]["alertname"] for r in fired["result"]} == {"ErrorRate"}


def test_no_traffic_refuses_without_a_commit(live: Live) -> None:
    wait_for(lambda: query(live.url, 'up{job="exporter"} == 1'), timeout=20)
    before = live.head()
    runner = CliRunner()
    args = ["rollout", "advance", "fd-idle", "--repo", str(live.repo), "--prometheus", live.url,
            "--specs", str(live.project / "specs"), "--no-push"]
    outcome = runner.invoke(cli, args)
    assert outcome.exit_code == 1, outcome.output
    assert "traffic: FAIL" in outcome.output
    assert "no traffic" in outcome.output
    assert live.head() == before
    assert live.active("fd-idle") == "stages/shadow"
    status = runner.invoke(cli, ["rollout", "status", "fd-idle", "--repo", str(live.repo), "--prometheus", live.url,
                                 "--specs", str(live.project / "specs"), "--format", "json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert (data["stage"], data["next"], data["gate"]["passed"]) == ("shadow", "canary-5", False)


def _gate_lines(live: Live, model: str, url: str) -> tuple[int, str]:
    before = live.head()
    result = advance(Options(model, live.repo, prometheus=url, specs=[live.project / "specs"], push=False))
    assert live.head() == before, "a refused gate must not commit"
    assert live.active(model) == "stages/shadow"
    return result.code, "\n".join(result.lines)


def test_rules_not_loaded_refuses(live: Live) -> None:
    # Healthy traffic, but this Prometheus has no rule files: no alert can ever fire, so silence is no proof.
    live.exporter.set("fd-norules", NAMESPACE, Traffic(ok=50, latency=0.4))  # violating, unseen
    live.exporter.set("fd-norules", NAMESPACE, Traffic(ok=50, latency=0.4), pod="fd-norules-shadow-predictor-0")
    with LocalPrometheus(live.binary, [], [f"127.0.0.1:{live.exporter.port}"], live.root / "prom-norules") as prom:
        wait_for(lambda: query(prom.url, 'sum(rate(request_predict_seconds_count{model_name="fd-norules"}[2s])) '
                                         "* 2 >= 20"), timeout=30)
        code, text = _gate_lines(live, "fd-norules", prom.url)
    assert code == 1, text
    assert "rules: FAIL (no alerting rule loaded for error-rate, latency-p99" in text
    assert "traffic: ok" in text  # the old gate's checks all passed: it would have promoted


def test_fresh_storage_refuses_while_the_model_violates(live: Live) -> None:
    # A Prometheus with an empty TSDB (as after losing its storage) and the rules loaded: the slow model's
    # latency alert needs 10 s of window and 30 s of `for:` before it can fire, so "not firing" is no proof.
    live.exporter.set("fd-fresh", NAMESPACE, Traffic(ok=50, latency=0.4))
    live.exporter.set("fd-fresh", NAMESPACE, Traffic(ok=50, latency=0.4), pod="fd-fresh-shadow-predictor-0")
    rules = [live.repo / "models/fd-fresh/prometheus/production/rules.yaml"]
    with LocalPrometheus(live.binary, rules, [f"127.0.0.1:{live.exporter.port}"], live.root / "prom-fresh") as prom:
        wait_for(lambda: query(prom.url, 'sum(rate(request_predict_seconds_count{model_name="fd-fresh"}[2s])) '
                                         "* 2 >= 20"), timeout=30)
        wait_for(lambda: query(prom.url, 'ALERTS{model="fd-fresh", alertstate="pending"}'), timeout=30)
        code, text = _gate_lines(live, "fd-fresh", prom.url)
    assert code == 1, text
    assert "history: FAIL (Prometheus has no request series from far enough back" in text
    assert "pending (violating, inside for:): LatencyP99[latency-p99]" in text
    for fooled in ("rollback: ok", "quiet: ok", "traffic: ok"):  # what fooled the old gate
        assert fooled in text
