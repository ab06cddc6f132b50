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
from datetime import UTC, datetime
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
from compiler.ledger import audit
from compiler.ledger.state import read_state, state_path
from compiler.live.prometheus import PrometheusError, Sample
from compiler.output.manifest import load_manifest
from compiler.rollout import engine
from compiler.rollout.engine import Options, advance, rollback, status

KUSTOMIZATION = "models/{}/kserve/production/kustomization.yaml"
BASE = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())


@dataclass
class Setup:
    project: Path
    repo: Path
    # The stand-in Prometheus, passed to the engine as collaborators (Options.query/rules).
    query: Callable[..., list[Sample]] | None = None
    rules: Callable[[str], list[dict[str, Any]]] | None = None

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
                       specs=[self.project / "specs"], push=False,
                       **{"query": self.query, "rules": self.rules, **extra})

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
    made.rules = lambda url: loaded_rules(repo)
    return made


def loaded_rules(repo: Path, **override: Any) -> list[dict[str, Any]]:
    """The rules API's answer for a Prometheus that loaded every rendered rule file and just evaluated it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Prometheus writes
    groups = []
    for path in sorted(repo.glob("models/*/prometheus/*/rules.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules = [{"type": "alerting", "name": r["alert"], "labels": r.get("labels", {}), "health": "ok",
                      "state": "inactive", "duration": 2, "lastEvaluation": now, **override}
                     for r in group["rules"] if "alert" in r]
            groups.append({"name": group["name"], "file": str(path), "interval": 1, "lastEvaluation": now,
                           "rules": rules})
    return groups


def answers(firing: tuple[str, ...] = (), requests: float | None = 500.0) -> Callable[[str, str], list[Sample]]:
    """A stand-in for Prometheus: `firing` monitors have a firing alert; `requests` None is no series."""

    def ask(url: str, expr: str, at: float | None = None) -> list[Sample]:
        if expr.startswith("ALERTS"):
            return [Sample({"alertname": m.title(), "monitor": m}, 1.0) for m in firing if f'"{m}' in expr
                    or f"|{m}" in expr]
        return [] if requests is None else [Sample({}, requests)]

    return ask


@contextmanager
def fake_prometheus(ask: Callable[[str, str], list[Sample]],
                    groups: Callable[[], list[dict[str, Any]]] | None = None) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering Prometheus' instant-query API from `ask` and, given `groups`,
    its rules API (`GET /api/v1/rules`)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if groups is None or not self.path.startswith("/api/v1/rules"):
                self.send_error(404)
                return
            self._answer({"groups": groups()})

        def do_POST(self) -> None:
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            samples = ask("", form["query"][0])
            self._answer({"resultType": "vector", "result": [
                {"metric": s.labels, "value": [0, str(s.value)]} for s in samples]})

        def _answer(self, data: dict[str, Any]) -> None:
            body = json.dumps({"status": "success", "data": data}).encode()
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
    with pytest.raises(engine.RolloutError, match=r"audit/alpha\.jsonl: uncommitted change"):
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
    def broken(url: str, expr: str, at: float | None = None) -> list[Sample]:
        raise PrometheusError("boom")

    with pytest.raises(PrometheusError):
        advance(setup.options(query=broken))
    assert advance(setup.options(query=broken), wait=True, timeout=0.2, interval=0.1).code == 2


def _stale(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for group in groups:
        group["lastEvaluation"] = "2020-01-01T00:00:00.000000001Z"
    return groups


def _other_version(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for group in groups:
        for rule in group["rules"]:
            rule["labels"] = {**rule["labels"], "model_version": "11"}
    return groups


@pytest.mark.parametrize(("change", "reason"), [
    (lambda g: [], "no alerting rule loaded for error-rate, latency-p99"),
    (_stale, "not evaluated recently: mlspec.alpha.production ("),
    (lambda g: [{**g[0], "lastEvaluation": "0001-01-01T00:00:00Z"}, *g[1:]], "never evaluated"),
    (_other_version, "loaded rules are for model version 11, not 12"),
    (lambda g: [{**x, "rules": [{**r, "health": "err", "lastError": "vector cannot contain metrics with the same "
                                 "labelset"} for r in x["rules"]]} for x in g], "health err: vector cannot contain"),
    (lambda g: [{**x, "rules": [{**r, "state": "pending"} for r in x["rules"]]} for x in g], "pending (violating"),
])
def test_gate_refuses_when_the_rules_cannot_be_trusted(setup: Setup, monkeypatch: pytest.MonkeyPatch,
                                                       change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                                                       reason: str) -> None:
    setup.query = answers()
    setup.rules = lambda url: change(loaded_rules(setup.repo))
    head = setup.head()
    result = advance(setup.options(), wait=True, timeout=1.5, interval=0.2)  # past the 1 s hold
    assert result.code == 1, result.lines
    assert result.verdict is not None
    assert "rules" in [c.name for c in result.verdict.failed]
    assert reason in result.lines[-1]
    assert setup.head() == head


def test_gate_refuses_without_request_history(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prometheus answers now, but had no series `for:` seconds ago (fresh or lost storage).
    now_only = answers()
    setup.query = lambda url, expr, at=None: [] if at is not None else now_only(url, expr)
    result = advance(setup.options(), wait=True, timeout=1.5, interval=0.2)
    assert result.code == 1, result.lines
    assert result.verdict is not None
    assert [c.name for c in result.verdict.failed] == ["history"]
    history = result.verdict.check("history")
    assert history is not None
    assert "@ now-2s" in (history.query or "")


def test_the_rollout_layout_comes_from_the_targets_that_declare_it(setup: Setup) -> None:
    # The engine knows no target's layout: with the serving target disabled nothing declares the stages.
    (setup.project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n"
                                               "targets:\n  kserve: {enabled: false}\n")
    with pytest.raises(engine.RolloutError, match="no enabled target renders the rollout stages of alpha"):
        status(setup.options())


def _drift(setup: Setup) -> list[tuple[str, str]]:
    from compiler.deploy.cli import drift_command

    out = CliRunner().invoke(drift_command, ["--repo", str(setup.repo), "--format", "json",
                                             str(setup.spec("alpha")), str(setup.spec("beta"))])
    data = json.loads(out.output[out.output.index("{"):])
    return [(d["path"], d["detail"]) for d in data["drift"] if d["kind"] == "ledger"]


def _git_commit(setup: Setup, *paths: str) -> None:
    repo = git.Repo(setup.repo)
    repo.git.add("-A", "--", *paths)
    repo.git.commit("-m", "by hand")


def _forged_state(setup: Setup, stage: str = "full") -> None:
    rel = state_path("alpha")
    (setup.repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (setup.repo / rel).write_text(json.dumps({"schema": "mlspec.dev/rollout-state/v1", "model": "alpha",
                                              "environments": {"production": {
                                                  "version": "12", "stage": stage,
                                                  "since": "2026-01-01T00:00:00.000Z", "history": []}}}))


@pytest.mark.parametrize("committed", [False, True])
def test_hand_written_state_is_refused_by_commit_rollout_and_reported_by_drift(
        setup: Setup, monkeypatch: pytest.MonkeyPatch, committed: bool) -> None:
    setup.query = answers()
    _forged_state(setup)
    if committed:
        _git_commit(setup, state_path("alpha"))
    head = setup.head()
    outcome = CliRunner().invoke(cli, ["commit", "--repo", str(setup.repo), str(setup.project / "specs")])
    assert outcome.exit_code == 1, outcome.output
    assert "ledger" in outcome.output
    assert "--force does not override" in outcome.output
    assert setup.active() == "stages/shadow"  # never rendered at the forged stage
    assert setup.head() == head
    found = _drift(setup)
    if committed:
        assert (state_path("alpha"), "production is at full (version 12) but no audit record moved it there") in found
    else:
        assert [p for p, d in found if d.startswith("uncommitted change (not in HEAD)")] == [state_path("alpha")]
    with pytest.raises(engine.RolloutError, match="disagree with git history"):
        advance(setup.options())
    assert not (setup.repo / "audit" / "alpha.jsonl").exists()


def _two_transitions(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> Path:
    setup.query = answers()
    assert advance(setup.options(), wait=True, timeout=30, interval=0.1).code == 0
    assert rollback(setup.options(), "first").code == 0
    assert _drift(setup) == []  # what mlspec wrote is consistent
    setup.write("alpha", **{"model.version": "13"})  # a new version may advance again
    return setup.repo / "audit" / "alpha.jsonl"


def test_uncommitted_edit_of_the_last_record_is_not_swept_into_the_next_commit(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _two_transitions(setup, monkeypatch)
    first, second = log.read_text().splitlines()
    edited = json.loads(second)
    edited["reason"] = "approved by the CTO"
    log.write_text(first + "\n" + json.dumps(edited, sort_keys=True, separators=(",", ":")) + "\n")
    head = setup.head()
    with pytest.raises(engine.RolloutError, match=r"audit/alpha\.jsonl: uncommitted change"):
        advance(setup.options(), wait=True, timeout=5, interval=0.1)
    assert setup.head() == head
    assert ("audit/alpha.jsonl", "record 2 was not written by a rollout commit (no commit carries its Audit-Record "
                                 "trailer)") not in _drift(setup)  # the working tree edit is the finding
    _git_commit(setup, "audit/alpha.jsonl")  # committed by hand, the trailer still disagrees
    found = _drift(setup)
    assert any("record 2 is not the one rollout commit" in d for _, d in found), found


def test_dropped_last_record_is_not_reused(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _two_transitions(setup, monkeypatch)
    log.write_text(log.read_text().splitlines()[0] + "\n")
    _git_commit(setup, "audit/alpha.jsonl")
    head = setup.head()
    with pytest.raises(engine.RolloutError, match=r"record 2 of rollout commit \w+ \(production: -> rollback\) is "
                                                  "missing from the log"):
        advance(setup.options(), wait=True, timeout=5, interval=0.1)
    assert setup.head() == head
    assert [r["seq"] for r in setup.records()] == [1]


def test_deleted_log_does_not_restart_the_chain(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _two_transitions(setup, monkeypatch)
    log.unlink()
    _git_commit(setup, "audit/alpha.jsonl")
    with pytest.raises(engine.RolloutError, match="record 1 of rollout commit"):
        advance(setup.options(), wait=True, timeout=5, interval=0.1)
    assert not log.exists()
    assert len(_drift(setup)) >= 2
    result = CliRunner().invoke(cli, ["rollout", "advance", "alpha", "--repo", str(setup.repo), "--specs",
                                      str(setup.project / "specs"), "--prometheus", "http://p:9090", "--no-push"])
    assert result.exit_code == 2
    assert "disagree with git history" in result.output


def test_record_appended_by_hand_is_reported(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _two_transitions(setup, monkeypatch)
    records = setup.records()
    body = {k: v for k, v in records[-1].items() if k not in ("schema", "seq", "prev", "seed")}
    body["where"] = {**body["where"], "stage": "full"}
    _, data = audit.append(log.read_bytes(), "log", body, records[-1]["seed"])  # a well-chained forgery
    log.write_bytes(data)
    _git_commit(setup, "audit/alpha.jsonl")
    assert ("audit/alpha.jsonl", "record 3 was not written by a rollout commit (no commit carries its "
                                 "Audit-Record trailer)") in _drift(setup)


def test_manual_rollback_that_loses_a_race_to_an_advance_retries(setup: Setup,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    setup.query = answers()
    real_locate = engine.locate
    raced: list[str] = []

    def racing(opts: Options) -> engine.Position:
        pos = real_locate(opts)
        if not raced:  # an advance lands between the rollback's read and its commit
            raced.append(pos.current.stage)
            assert advance(setup.options(), wait=True, timeout=30, interval=0.1).code == 0
        return pos

    monkeypatch.setattr(engine, "locate", racing)
    result = rollback(setup.options(), "pager")
    assert result.code == 0, result.lines
    assert "read the state again and retried" in result.lines[0]
    assert raced == ["shadow"]
    assert setup.active() == "stages/rollback"
    promote, back = setup.records()
    assert (promote["event"], back["event"], back["where"]["previous_stage"]) == ("promote", "rollback", "canary-5")
    assert _drift(setup) == []


def test_push_rejected_after_the_commit_says_how_to_publish_it(setup: Setup, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True)
    repo = git.Repo(setup.repo)
    branch = repo.active_branch.name
    repo.create_remote("origin", str(remote))
    repo.git.push("-u", "origin", branch)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: deployments are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    with fake_prometheus(answers(), lambda: loaded_rules(setup.repo)) as url:  # the CLI's real HTTP client
        result = CliRunner().invoke(cli, ["rollout", "advance", "alpha", "--repo", str(setup.repo), "--specs",
                                          str(setup.project / "specs"), "--prometheus", url, "--wait",
                                          "--interval", "0.2", "--timeout", "20"])  # the branch tracks: it pushes
    assert result.exit_code == 2, result.output
    head = setup.head()
    assert git.Repo(remote).heads[branch].commit.hexsha != head  # the remote never got it
    assert "deployments are frozen" in result.output
    assert f"committed {head[:12]} locally" in result.output
    command = f"git -C {setup.repo} push origin HEAD:refs/heads/{branch}"
    assert command in result.output
    hook.unlink()  # the remote accepts again: the printed command publishes the commit
    subprocess.run(command.split(), check=True, capture_output=True)
    assert git.Repo(remote).heads[branch].commit.hexsha == head
    assert setup.active() == "stages/canary-5"


@pytest.mark.parametrize("name", ["alpha\n", "../alpha", "Alpha", "alpha/x", ""])
def test_state_path_takes_model_names_only(name: str) -> None:
    from compiler.ledger.state import StateError

    with pytest.raises(StateError):
        state_path(name)


def test_shallow_clone_checks_only_the_history_it_has(setup: Setup, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # CI clones are often shallow: records older than the visible history cannot be vouched for and are
    # not reported, while the visible rollout commits still are checked.
    from compiler.deploy import history

    _two_transitions(setup, monkeypatch)
    clone = tmp_path / "shallow"
    git.Repo.clone_from(f"file://{setup.repo}", clone, depth=1)
    facts = history.facts(git.Repo(clone), ["alpha"])[0]
    assert facts.shallow
    assert [c.seq for c in facts.commits] == [2]
    assert history.problems(git.Repo(clone)) == []
    log = clone / "audit" / "alpha.jsonl"
    log.write_text(log.read_text().splitlines()[0] + "\n")  # drop the visible commit's record
    git.Repo(clone).git.commit("-am", "by hand")
    found = [p.detail for p in history.problems(git.Repo(clone))]
    assert any(d.startswith(f"record 2 of rollout commit {facts.commits[0].sha[:12]}") for d in found), found
