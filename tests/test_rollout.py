"""The rollout state, audit chain and commit rules, with Prometheus answers supplied by the test.

tests/test_rollout_live.py proves the gate against a real Prometheus; here the answers are fixed so
each rule (hold, quiet monitors, version restarts, compare-and-swap, other models untouched) is exact.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from click.testing import CliRunner
from rollout_harness import rollout_spec
from tools import REPO_ROOT

from compiler.cli import cli
from compiler.deploy.commit import StateChanged, commit
from compiler.manifest import load_manifest
from compiler.rollout import audit, engine
from compiler.rollout.engine import Options, advance, rollback, status
from compiler.rollout.prometheus import PrometheusError, Sample
from compiler.rollout.state import read_state, state_path

KUSTOMIZATION = "models/{}/kserve/production/kustomization.yaml"
BASE = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())


@dataclass
class Setup:
    project: Path
    repo: Path

    def spec(self, name: str) -> Path:
        return self.project / "specs" / f"{name}.yaml"

    def write(self, name: str, hold: str = "1s", **changes: Any) -> None:
        spec = rollout_spec(BASE, name, hold)
        for dotted, value in changes.items():
            node = spec
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        self.spec(name).write_text(yaml.safe_dump(spec, sort_keys=False))

    def options(self, model: str = "alpha", **extra: Any) -> Options:
        return Options(model, self.repo, prometheus="http://prometheus.invalid:9090",
                       specs=[self.project / "specs"], push=False, **extra)

    def active(self, model: str = "alpha") -> str:
        return str(yaml.safe_load((self.repo / KUSTOMIZATION.format(model)).read_text())["resources"][-1])

    def head(self) -> str:
        return str(git.Repo(self.repo).head.commit.hexsha)

    def records(self, model: str = "alpha") -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.repo / "audit" / f"{model}.jsonl").read_text().splitlines()]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.setenv("MLSPEC_ACTOR", "tester")
    project, repo = tmp_path / "project", tmp_path / "deploy"
    (project / "specs").mkdir(parents=True)
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    made = Setup(project, repo)
    made.write("alpha")
    made.write("beta")
    git.Repo.init(repo)
    with git.Repo(repo).config_writer() as config:
        config.set_value("user", "name", "Rollout Test").set_value("user", "email", "rollout@example.com")
    assert commit(repo, root=project).status == "committed"
    return made


def answers(firing: tuple[str, ...] = (), requests: float | None = 500.0) -> Callable[[str, str], list[Sample]]:
    """A stand-in for Prometheus: `firing` monitors have a firing alert; `requests` None is no series."""

    def ask(url: str, expr: str) -> list[Sample]:
        if expr.startswith("ALERTS"):
            return [Sample({"alertname": m.title(), "monitor": m}, 1.0) for m in firing if f'"{m}' in expr
                    or f"|{m}" in expr]
        return [] if requests is None else [Sample({}, requests)]

    return ask


@contextmanager
def fake_prometheus(ask: Callable[[str, str], list[Sample]]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering Prometheus' instant-query API from `ask`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            samples = ask("", form["query"][0])
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": s.labels, "value": [0, str(s.value)]} for s in samples]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_advance_changes_only_the_model_selection_state_and_audit(setup: Setup,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.relative_to(setup.repo).as_posix(): p.read_bytes() for p in setup.repo.rglob("*")
              if p.is_file() and ".git" not in p.parts}
    digests = load_manifest(setup.repo).specs  # type: ignore[union-attr]
    result = advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.1)
    assert result.code == 0, result.lines
    changed = set(git.Repo(setup.repo).git.diff("--name-only", "HEAD~1", "HEAD").splitlines())
    assert changed == {KUSTOMIZATION.format("alpha"), ".mlspec/manifest.json", state_path("alpha"),
                       "audit/alpha.jsonl"}
    assert setup.active() == "stages/canary-5"
    assert load_manifest(setup.repo).specs == digests  # type: ignore[union-attr]  # plan digests unchanged
    for rel, data in before.items():
        if rel.startswith("models/beta/") or rel in ("CODEOWNERS",):
            assert (setup.repo / rel).read_bytes() == data, rel


def test_full_commit_keeps_the_live_stage_and_a_new_version_restarts(setup: Setup,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.1).code == 0
    assert commit(setup.repo, root=setup.project).status == "unchanged"  # the state is read back
    assert setup.active() == "stages/canary-5"
    setup.write("alpha", **{"model.version": "13", "model.uri": "s3://models/fraud-detector/13",
                            "model.previous": {"version": "12", "uri": "s3://models/fraud-detector/12"}})
    assert commit(setup.repo, root=setup.project).status == "committed"
    assert setup.active() == "stages/shadow"
    now = status(setup.options(query=answers()))
    assert (now["version"], now["stage"], now["restarted"], now["next"]) == ("13", "shadow", True, "canary-5")
    assert advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.1).code == 0
    state, _ = read_state(setup.repo, "alpha")
    entry = state.environments["production"]
    assert (entry.version, entry.stage) == ("13", "canary-5")
    assert [h["version"] for h in entry.history] == ["12", "13"]


def test_hold_is_honoured_while_waiting(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    setup.write("alpha", hold="3s")
    assert commit(setup.repo, root=setup.project).status == "committed"
    assert advance(setup.options(query=answers())).code == 1  # without --wait a stage still inside its hold refuses
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        import time

        time.sleep(seconds)

    result = engine.advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.5, sleep=sleep)
    assert result.code == 0, result.lines
    assert pauses
    assert all(p <= 0.5 for p in pauses)
    hold = {c["check"]: c for c in setup.records()[-1]["evidence"]["checks"]}["hold"]
    assert hold["passed"]


def test_quiet_monitor_firing_times_out_without_rollback(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    setup.write("alpha", **{"rollout.rollbackOn": ["error-rate"]})
    assert commit(setup.repo, root=setup.project).status == "committed"
    head = setup.head()
    result = advance(setup.options(query=answers(firing=("latency-p99",))), wait=True, timeout=0.5, interval=0.1)
    assert result.code == 1
    assert "timed out" in result.lines[-1]
    assert "quiet: FAIL" in result.lines[-1]
    assert setup.head() == head


def test_low_traffic_refuses(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    # timeout: past the 1 s hold
    result = advance(setup.options(query=answers(requests=5)), wait=True, timeout=1.5, interval=0.1)
    assert result.code == 1
    assert result.verdict is not None
    assert [c.name for c in result.verdict.failed] == ["traffic"]


def test_manual_rollback_records_why_and_the_audit_log_chains(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    assert advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.1).code == 0
    result = rollback(setup.options(query=answers()), "customer complaints")
    assert result.code == 0
    assert setup.active() == "stages/rollback"
    first, second = setup.records()
    seed = json.loads((setup.repo / "models/alpha/governance/audit-seed.json").read_text())["seed_digest"]
    assert (first["seq"], first["prev"], first["seed"]) == (1, seed, seed)
    assert (second["seq"], second["prev"]) == (2, audit.record_digest(first))
    assert (second["event"], second["reason"], second["where"]["previous_stage"]) == (
        "rollback", "customer complaints", "canary-5")
    assert second["evidence"]["firing"]["passed"] is True
    message = git.Repo(setup.repo).head.commit.message
    assert f"Audit-Record: {audit.record_digest(second)}" in message


def test_tampered_audit_log_stops_the_rollout(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    assert advance(setup.options(query=answers()), wait=True, timeout=30, interval=0.1).code == 0
    assert rollback(setup.options(query=answers()), "first").code == 0
    log = setup.repo / "audit" / "alpha.jsonl"
    first, second = log.read_text().splitlines()
    log.write_text(first.replace('"tester"', '"someone else"') + "\n" + second + "\n")
    setup.write("alpha", **{"model.version": "13"})  # a new version may roll back again
    with pytest.raises(audit.AuditError):
        rollback(setup.options(query=answers()), "second")
    log.write_text(log.read_text() + log.read_text())  # a replayed record breaks seq and prev
    with pytest.raises(audit.AuditError):
        audit.verify(audit.read_log(log.read_bytes(), "log"), "log")


def test_state_is_compare_and_swapped(setup: Setup) -> None:
    rel = state_path("alpha")
    with pytest.raises(StateChanged):
        commit(setup.repo, [setup.spec("alpha")], extra_files={rel: b"{}\n"}, expect={rel: b"stale"})
    assert not (setup.repo / rel).exists()


def test_partial_commit_keeps_project_files(setup: Setup) -> None:
    codeowners = (setup.repo / "CODEOWNERS").read_bytes()
    setup.write("alpha", **{"rollout.minRequests": 30})
    assert commit(setup.repo, [setup.spec("alpha")], root=setup.project).status == "committed"
    assert (setup.repo / "CODEOWNERS").read_bytes() == codeowners
    assert b"beta" in codeowners


def test_cli_exit_codes(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    common = ["--repo", str(setup.repo), "--specs", str(setup.project / "specs"), "--no-push"]
    unreachable = runner.invoke(cli, ["rollout", "advance", "alpha", *common, "--prometheus", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 2
    assert "cannot reach Prometheus" in unreachable.output
    missing = runner.invoke(cli, ["rollout", "advance", "nope", *common, "--prometheus", "http://127.0.0.1:9"])
    assert missing.exit_code == 2
    assert "no valid spec" in missing.output
    no_url = runner.invoke(cli, ["rollout", "advance", "alpha", *common], env={"MLSPEC_PROMETHEUS_URL": ""})
    assert no_url.exit_code == 2
    assert "--prometheus" in no_url.output
    wrong_env = runner.invoke(cli, ["rollout", "status", "alpha", "--repo", str(setup.repo), "--env", "staging",
                                    "--specs", str(setup.project / "specs")])
    assert wrong_env.exit_code == 2
    with fake_prometheus(answers(firing=("error-rate",))) as url:  # the real HTTP client, a stand-in server
        rolled = runner.invoke(cli, ["rollout", "advance", "alpha", *common, "--prometheus", url])
    assert rolled.exit_code == 1
    assert "rolled back alpha 12" in rolled.output
    text = runner.invoke(cli, ["rollout", "status", "alpha", "--repo", str(setup.repo),
                               "--specs", str(setup.project / "specs")])
    assert text.exit_code == 0
    assert "stage rollback" in text.output


def test_prometheus_error_is_reported_not_swallowed(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(url: str, expr: str) -> list[Sample]:
        raise PrometheusError("boom")

    with pytest.raises(PrometheusError):
        advance(setup.options(query=broken))
    assert advance(setup.options(query=broken), wait=True, timeout=0.2, interval=0.1).code == 2
