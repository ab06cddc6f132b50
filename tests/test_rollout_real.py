"""`mlspec rollout advance --wait` walking shadow -> canary -> full against KServe's REAL model server,
and rolling back on a fault injected into it.

Two short-hold variants of the fraud-detector example (`timeScale` shortens the rendered windows and
`for:`; the output is never edited) are committed to a local deployment repository. Three real KServe
Python model servers (`kserve` from the dev extra, tests/kserve_faulty_model.py) play the predictors
KServe would run: the primary, the shadow and the canary, each serving the model name the rendered
InferenceService's command line gives it (tests/kserve_cluster.py). Debian's `prometheus` scrapes them
with the labels Kubernetes service discovery would add — the namespace and the pod
(`<model>-predictor-0`, `<model>-shadow-predictor-0`, `<model>-canary-predictor-0`: compiler/planning/serving_names.py)
— and loads the committed rule files. The test plays Istio: live requests go to the primary (and to the
canary at the committed stage's weight), and in the shadow stage each is mirrored to the shadow on the
same path; every one must get a 2xx while the model is healthy.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from behaviour_harness import HERE, Process, query, start_prometheus, wait_until
from click.testing import CliRunner
from http_stub import free_port
from kserve_cluster import predictor_args
from tools import REPO_ROOT, require_tool, unavailable

from compiler.cli import cli
from compiler.deploy.commit import commit
from compiler.rollout.engine import Options, advance

WALK, FAULTY = "walk-detector", "walk-faulty"
HOLDS = {WALK: "4s", FAULTY: "1h"}  # the faulty model's gate can only end by a rollback
SCALE = 1 / 30  # the 5m windows are rendered 10s long, 1m `for:` 2s
RATE = 10.0  # live requests per second per model; minRequests is 20
HEALTHY = {"latency": 0.005, "fail_every": 0}
KUSTOMIZATION = "models/{}/kserve/production/kustomization.yaml"
STAGES = "models/{}/kserve/production/stages/{}/{}"
ROLES = ("primary", "shadow", "canary")


def spec_for(base: dict[str, Any], name: str, hold: str) -> dict[str, Any]:
    """The example renamed, every stage held `hold`, only the monitors the rollout watches (the drift
    and SLO monitors need an exporter this test does not run)."""
    spec: dict[str, Any] = json.loads(json.dumps(base))
    spec["metadata"]["name"] = name
    rollout = spec["rollout"]
    rollout["shadow"]["duration"] = hold
    rollout["canary"] = [{**step, "duration": hold} for step in rollout["canary"]]
    rollout["minRequests"] = 20
    watched = {*rollout["advanceWhenQuiet"], *rollout["rollbackOn"]}
    spec["pipeline"].pop("retraining", None)
    # 5m windows and 1m `for:` (10s and 2s rendered); the example's error-rate defaults to a 10m `for:`,
    # which would add 20s to every run. 500ms, not 150ms: a p99 from histogram buckets on a shared
    # 2-core CI machine must not flap.
    spec["monitors"] = [{**m, "window": "5m", "for": "1m", **({"threshold": "500ms"} if m["kind"] == "latency" else {})}
                        for m in spec["monitors"] if m["name"] in watched]
    return spec


def served_name(isvc: dict[str, Any], canary: int | None = None) -> str:
    """The model name the server gets from the rendered object: KServe's argparse keeps the last one."""
    names = [a.removeprefix("--model_name=") for a in predictor_args(isvc, canary) if a.startswith("--model_name=")]
    assert names, predictor_args(isvc, canary)
    return names[-1]


@dataclass
class Router:
    """Istio's part: per model, where each live request goes at the committed stage, and the mirror."""

    urls: dict[str, str]  # role -> server URL
    stage: dict[str, str]  # model -> committed stage
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (model, role, status)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def post(self, model: str, role: str) -> None:
        import urllib.error
        import urllib.request

        body = json.dumps({"instances": [[1.0, 2.0]]}).encode()
        request = urllib.request.Request(f"{self.urls[role]}/v1/models/{model}:predict", body,
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        with self.lock:
            self.statuses[(model, role, status)] += 1

    def drive(self, model: str) -> None:
        sent = 0
        next_at = time.monotonic()
        while not self.stopped.is_set():
            now = time.monotonic()
            if now < next_at:
                time.sleep(min(next_at - now, 0.1))
                continue
            next_at += 1 / RATE
            stage = self.stage[model]
            weight = float(stage.removeprefix("canary-")) if stage.startswith("canary-") else 0.0
            # Deterministic weighting: request n goes to the canary when it crosses the next weight step.
            to_canary = int((sent + 1) * weight / 100) > int(sent * weight / 100)
            sent += 1
            self.post(model, "canary" if to_canary else "primary")
            if stage == "shadow":
                self.post(model, "shadow")  # the mirror: the same path, to the shadow's predictor

    def start(self, models: list[str]) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.drive, args=(m,), daemon=True) for m in models]
        for thread in threads:
            thread.start()
        return threads

    def count(self, model: str, role: str, ok: bool) -> int:
        with self.lock:
            return sum(n for (m, r, s), n in self.statuses.items()
                       if m == model and r == role and (200 <= s < 300) == ok)


@dataclass
class Live:
    project: Path
    repo: Path
    prometheus: str
    router: Router
    controls: dict[tuple[str, str], Path]  # (role, model) -> the server's control file

    def options(self, model: str) -> Options:
        return Options(model, self.repo, prometheus=self.prometheus, specs=[self.project / "specs"], push=False)

    def active(self, model: str) -> str:
        data = yaml.safe_load((self.repo / KUSTOMIZATION.format(model)).read_text())
        return str(data["resources"][-1]).removeprefix("stages/")

    def set_model(self, role: str, model: str, **settings: Any) -> None:
        path = self.controls[(role, model)]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**HEALTHY, **settings}))
        tmp.replace(path)  # atomic: the server never reads half a file

    def advance_wait(self, model: str) -> tuple[int, str]:
        """`mlspec rollout advance --wait`, as a CI job runs it."""
        result = CliRunner().invoke(cli, [
            "rollout", "advance", model, "--repo", str(self.repo), "--prometheus", self.prometheus,
            "--specs", str(self.project / "specs"), "--no-push", "--wait", "--timeout", "60", "--interval", "0.5"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, result.output

    def audit(self, model: str) -> dict[str, Any]:
        record: dict[str, Any] = json.loads((self.repo / "audit" / f"{model}.jsonl").read_text().splitlines()[-1])
        return record


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prometheus_bin = require_tool("prometheus")
    try:
        import kserve  # noqa: F401
    except ImportError:
        unavailable("the kserve package (dev extra) is not installed")
    root = tmp_path_factory.mktemp("rollout-real")
    project, repo, work = root / "project", root / "deploy", root / "run"
    (project / "specs").mkdir(parents=True)
    work.mkdir()
    (project / "mlspec.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "mlspec/v1", "kind": "Project", "targets": {"prometheus": {"timeScale": SCALE}}}))
    base = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())
    for name, hold in HOLDS.items():
        (project / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(spec_for(base, name, hold), sort_keys=False))
    git.Repo.init(repo)
    with git.Repo(repo).config_writer() as config:
        config.set_value("user", "name", "Rollout Test").set_value("user", "email", "rollout@example.com")
    assert commit(repo, root=project).status == "committed"

    # What each predictor serves, from the committed InferenceServices' command lines.
    served: dict[str, list[str]] = {role: [] for role in ROLES}
    namespace = ""
    for model in HOLDS:
        primary = yaml.safe_load((repo / STAGES.format(model, "shadow", "inferenceservice.yaml")).read_text())
        shadow = yaml.safe_load((repo / STAGES.format(model, "shadow", "shadow-inferenceservice.yaml")).read_text())
        canary = yaml.safe_load((repo / STAGES.format(model, "canary-5", "inferenceservice.yaml")).read_text())
        namespace = primary["metadata"]["namespace"]
        served["primary"].append(served_name(primary))
        served["shadow"].append(served_name(shadow))
        served["canary"].append(served_name(canary, canary=0))
    # The mirror keeps the path: the shadow and the canary must serve the primary's model name.
    assert served["primary"] == served["shadow"] == served["canary"] == list(HOLDS), served

    controls = {(role, model): work / f"{role}-{model}.json" for role in ROLES for model in HOLDS}
    for path in controls.values():
        path.write_text(json.dumps(HEALTHY))
    processes: list[Process] = []
    router: Router | None = None
    try:
        ports = {role: free_port() for role in ROLES}
        for role in ROLES:  # started together, waited for together: the imports dominate start-up
            processes.append(Process(f"kserve-{role}", [sys.executable, str(HERE / "kserve_faulty_model.py")], work,
                                     {"MODEL_NAME": ",".join(served[role]), "HTTP_PORT": str(ports[role]),
                                      "CONTROL": str(work / f"{role}-{{model}}.json")}))
        urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}
        for role, proc in zip(ROLES, processes, strict=True):
            proc.ready(f"{urls[role]}/v1/models/{served[role][0]}", timeout=120)
        pod = {"primary": "-predictor-0", "shadow": "-shadow-predictor-0", "canary": "-canary-predictor-0"}
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(repo / f"models/{m}/prometheus/production/rules.yaml") for m in HOLDS],
            # What Kubernetes service discovery adds to a predictor pod's series: its namespace and pod
            # (here one server plays the same predictor of both models, so the pod follows the model).
            "scrape_configs": [{
                "job_name": f"kserve-{role}", "static_configs": [{"targets": [urls[role].removeprefix("http://")]}],
                "relabel_configs": [{"target_label": "namespace", "replacement": namespace}],
                "metric_relabel_configs": [{"source_labels": ["model_name"], "regex": "(.+)", "target_label": "pod",
                                            "replacement": "${1}" + pod[role]}],
            } for role in ROLES],
        }
        prom_proc, prom_url = start_prometheus(prometheus_bin, work, config)
        processes.append(prom_proc)
        router = Router(urls, dict.fromkeys(HOLDS, "shadow"))
        router.start(list(HOLDS))
        yield Live(project, repo, prom_url, router, controls)
    finally:
        if router is not None:
            router.stopped.set()
        for proc in reversed(processes):
            proc.stop()


def test_walks_shadow_through_every_canary_step_to_full(live: Live, record_property: Any,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    expected = ["shadow", "canary-5", "canary-25", "canary-50", "full"]
    assert live.active(WALK) == expected[0]
    timings: list[tuple[str, float]] = []
    for stage, following in itertools.pairwise(expected):
        started = time.monotonic()
        code, output = live.advance_wait(WALK)
        timings.append((stage, time.monotonic() - started))
        assert code == 0, output
        assert live.active(WALK) == following, output
        record = live.audit(WALK)
        assert (record["event"], record["where"]["stage"]) == ("promote", following)
        checks = {c["check"]: c for c in record["evidence"]["checks"]}
        assert all(c["passed"] for c in checks.values()), checks
        if stage == "shadow":  # the gate counted the shadow's own pods, served by the real server
            assert 'pod=~"walk-detector-shadow-predictor-.+"' in checks["traffic"]["query"]
        assert checks["traffic"]["result"][0]["value"] >= 20
        assert f"Rollout-Stage: {following}" in git.Repo(live.repo).head.commit.message
        live.router.stage[WALK] = following  # the cluster applies the commit: traffic follows it
    result = advance(live.options(WALK))
    assert result.code == 0, result.lines
    assert "the rollout is complete" in result.lines[-1], result.lines
    # Every live and mirrored request was served (2xx) by the real servers, the canary's included.
    for role in ROLES:
        assert live.router.count(WALK, role, ok=True) > 0, role
        assert live.router.count(WALK, role, ok=False) == 0, (role, live.router.statuses)
    for stage, seconds in timings:
        record_property(f"walk_{stage}_seconds", round(seconds, 2))
    with capsys.disabled():
        print("\nwalk (s per stage, 4s holds, incl. warm-up in shadow): "
              + ", ".join(f"{s} {t:.1f}" for s, t in timings))


def test_fault_in_the_real_server_fires_and_commits_the_rollback(live: Live, record_property: Any,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert live.active(FAULTY) == "shadow"
    # Healthy first: the windows fill, nothing fires, the one-hour hold refuses without a commit.
    def only_held() -> bool:
        verdict = advance(live.options(FAULTY)).verdict
        return verdict is not None and [c.name for c in verdict.failed] == ["hold"]

    wait_until(only_held, 60, "the faulty model's gate passing every check but its hold")
    before = git.Repo(live.repo).head.commit.hexsha
    assert live.router.count(FAULTY, "shadow", ok=False) == 0
    assert live.router.count(FAULTY, "shadow", ok=True) > 0

    fired: dict[str, float] = {}

    def watch(since: float) -> None:
        while "at" not in fired and time.monotonic() - since < 60:
            if query(live.prometheus, f'ALERTS{{alertstate="firing", model="{FAULTY}"}}'):
                fired["at"] = time.monotonic() - since
            time.sleep(0.1)

    t0 = time.monotonic()
    live.set_model("shadow", FAULTY, fail_every=2)  # the new version fails half the mirrored requests
    watcher = threading.Thread(target=watch, args=(t0,), daemon=True)
    watcher.start()
    code, output = live.advance_wait(FAULTY)
    committed = time.monotonic() - t0
    watcher.join(timeout=5)
    assert code == 1, output
    assert "ErrorRate[error-rate]" in output, output
    assert live.active(FAULTY) == "rollback"
    assert git.Repo(live.repo).head.commit.hexsha != before
    record = live.audit(FAULTY)
    assert record["event"] == "rollback"
    rollback = {c["check"]: c for c in record["evidence"]["checks"]}["rollback"]
    assert "ErrorRate" in {r["labels"]["alertname"] for r in rollback["result"]}
    assert live.router.count(FAULTY, "shadow", ok=False) > 0  # the real server failed the requests
    assert "at" in fired
    record_property("fault_to_firing_seconds", round(fired["at"], 2))
    record_property("fault_to_rollback_commit_seconds", round(committed, 2))
    with capsys.disabled():
        print(f"\nfault -> firing {fired['at']:.1f}s, fault -> rollback commit {committed:.1f}s")
