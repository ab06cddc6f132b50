"""The rendered CI pipelines, executed: each job's scripts run under bash by tests/ci_runner.py.

The GitHub jobs call our own Action: `uses:` of the pinned ref runs this checkout's action.yml (its
composite steps, with the inputs bound as GitHub binds them; tests/ci_runner.py), so the stage logic
proven here is the Action's. `mlspec` is this checkout (a shim on PATH; the Action's `pip install`
of its own checkout is recorded, not run, so the test never reinstalls into this venv), the deployment
repository a local bare git repository reached through the https URL the workflow builds (git's
`insteadOf`), KFP a stand-in API
(tests/kfp_fake.py) that judges run requests with kfp_server_api's models, `docker` and `dvc` shims
that record what they were asked, and Prometheus, for the scheduled rollout job, the real binary.
What production serves is read from the deployment repository after every job.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_runner import Refused, Runner, env_path, write_shim
from kfp_fake import FakeKfp
from rollout_harness import LocalPrometheus
from tools import REPO_ROOT, require_tool

from golden import SPECS
from targets.ci.settings import CiSettings

MODEL = "fraud-detector"
PROD = f"models/{MODEL}/kserve/production"
DATA = "amount,merchant,country\n12.5,m1,DE\n80,m2,FR\n3.2,m1,NL\n"
TOKEN = "deploy-token-123"
DEPLOY_URL = "https://deploy.example.test/acme/deploy.git"
PROJECT = {
    "apiVersion": "mlspec/v1", "kind": "Project",
    "targets": {"ci": {
        "provider": "both",
        "install_command": "mlspec --version",
        "dvc_install_command": "dvc --version",
        "baseline_command": "mkdir -p metrics && cp \"$FAKE_METRICS/baseline.json\" metrics/baseline.json",
        "metrics_command": "mkdir -p metrics && cp \"$FAKE_METRICS\"/*.json metrics/",
    }},
}


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _spec(version: str, previous: str) -> dict[str, Any]:
    data = yaml.safe_load((SPECS / f"{MODEL}.yaml").read_text())
    data["model"]["version"] = version
    data["model"]["uri"] = f"s3://models/{MODEL}/{version}"
    data["model"]["previous"] = {"version": previous, "uri": f"s3://models/{MODEL}/{previous}"}
    data["data"]["dvc"]["md5"] = hashlib.md5(DATA.encode()).hexdigest()
    return data


def _write_spec_repo(root: Path, version: str, previous: str) -> None:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "mlspec.yaml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    (root / "specs" / f"{MODEL}.yaml").write_text(yaml.safe_dump(_spec(version, previous), sort_keys=False))
    if not (root / ".git").exists():
        _git("init", "-q", "-b", "main", cwd=root)
    _git("add", "-A", cwd=root)
    _git("-c", "user.name=dev", "-c", "user.email=dev@example.test", "commit", "-q", "-m", f"v{version}", cwd=root)


def _production(bare: Path, scratch: Path) -> dict[str, bytes]:
    """The production environment's files at the deployment repository's main branch."""
    if scratch.exists():
        _git("fetch", "-q", "origin", cwd=scratch)
        _git("reset", "-q", "--hard", "origin/main", cwd=scratch)
    else:
        _git("clone", "-q", str(bare), str(scratch), cwd=bare.parent)
    base = scratch / PROD
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _served(files: dict[str, bytes]) -> set[str]:
    """storageUris of the InferenceServices production's kustomization selects."""
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    uris = set()
    for resource in kustomization["resources"]:
        for rel, data in files.items():
            if rel.startswith(resource + "/") and rel.endswith("inferenceservice.yaml"):
                for doc in yaml.safe_load_all(data):
                    uris.add(doc["spec"]["predictor"]["model"]["storageUri"])
    return uris


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    require_tool("git")
    shims = tmp_path / "shims"
    write_shim(shims, "mlspec", f'exec "{Path(sys.executable).parent / "mlspec"}" "$@"')
    write_shim(shims, "python", f"""if [ "$1 $2 $3" = "-m pip install" ]; then
  echo "pip ${{@: -1}}" >> "$FAKE_PIP_LOG"; exit 0
fi
exec "{sys.executable}" "$@\"""")
    # dvc: `dvc get REPO PATH --rev C -o OUT`; the .dvc file declares the md5 of the data served.
    md5 = hashlib.md5(DATA.encode()).hexdigest()
    write_shim(shims, "dvc", f"""case "$1" in
  --version) echo 3.0.0 ;;
  get) out="${{@: -1}}"; case "$3" in
         *.dvc) printf 'outs:\\n- md5: {md5}\\n  path: transactions.csv\\n' > "$out" ;;
         *) printf '%s' "$FAKE_DATA" > "$out" ;;
       esac ;;
  *) echo "dvc shim: $*" >&2; exit 2 ;;
esac""")
    write_shim(shims, "docker", """echo "docker $*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  inspect) echo "ghcr.io/acme/fraud-detector@sha256:$(printf '%064d' 7)" ;;
esac""")
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "candidate.json").write_text(json.dumps({"auc": 0.95, "latency_p99_ms": 20}))
    (metrics / "baseline.json").write_text(json.dumps({"auc": 0.94, "latency_p99_ms": 25}))
    home = tmp_path / "work" / "home"
    home.mkdir(parents=True)
    bare = tmp_path / "deploy.git"
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    # The https URL the workflow builds from the variable and the token lands in the bare repository.
    authed = f"https://oauth2:{TOKEN}@{DEPLOY_URL.removeprefix('https://')}"
    (home / ".gitconfig").write_text(f'[url "file://{bare}"]\n\tinsteadOf = {authed}\n'
                                     "[user]\n\tname = ci\n\temail = ci@example.test\n")
    # Production runs version 12 (released earlier); the push under test brings version 13.
    spec_repo = tmp_path / "spec-repo"
    _write_spec_repo(spec_repo, "12", "11")
    seed = tmp_path / "seed"
    _git("clone", "-q", str(bare), str(seed), cwd=tmp_path)
    env = {"HOME": str(home), "PATH": env_path(shims)}
    subprocess.run(["mlspec", "commit", str(spec_repo / "specs" / f"{MODEL}.yaml"), "--repo", str(seed), "--push"],
                   cwd=spec_repo, env=env, check=True, capture_output=True)
    _write_spec_repo(spec_repo, "13", "12")
    rendered = tmp_path / "rendered"
    subprocess.run(["mlspec", "render", "--out", str(rendered)], cwd=spec_repo, env=env, check=True,
                   capture_output=True)
    settings = yaml.safe_load((rendered / "ci" / "repository-settings.yaml").read_text())
    return {
        "tmp": tmp_path, "bare": bare, "spec_repo": spec_repo, "shims": shims, "metrics": metrics,
        "workflow": yaml.safe_load((rendered / "models" / MODEL / "ci" / "github-workflow.yaml").read_text()),
        "pipeline": yaml.safe_load((rendered / "models" / MODEL / "ci" / "gitlab-ci.yaml").read_text()),
        "protected": frozenset(e["name"] for e in settings["environments"] if e["approval_required"]),
    }


def _deploy(world: dict[str, Any], *hold: str) -> None:
    """What deploy_to_staging (with `--hold production`) or the released production job commits."""
    clone = world["tmp"] / f"release-{len(hold)}-{len(list(world['tmp'].glob('release-*')))}"
    env = {"HOME": str(world["tmp"] / "work" / "home"), "PATH": env_path(world["shims"])}
    subprocess.run(["git", "clone", "-q", str(world["bare"]), str(clone)], check=True, capture_output=True, env=env)
    subprocess.run(["mlspec", "commit", f"specs/{MODEL}.yaml", "--repo", str(clone), *hold, "--push"],
                   cwd=world["spec_repo"], env=env, check=True, capture_output=True)


def _runner(world: dict[str, Any], kfp: FakeKfp, event: str = "push", prometheus: str = "") -> Runner:
    work = world["tmp"] / "work"
    return Runner(
        checkout=world["spec_repo"], work=work, event=event, protected=world["protected"],
        secrets={"MLSPEC_DEPLOY_TOKEN": TOKEN, "GITHUB_TOKEN": "gh-token"},
        variables={"MLSPEC_DEPLOY_REPO": DEPLOY_URL, "KFP_ENDPOINT": kfp.url, "MLSPEC_PROMETHEUS_URL": prometheus},
        path=env_path(world["shims"]),
        extra_env={"FAKE_DATA": DATA, "FAKE_METRICS": str(world["metrics"]),
                   "FAKE_DOCKER_LOG": str(world["tmp"] / "docker.log"), "FAKE_PIP_LOG": str(world["tmp"] / "pip.log")},
        local_actions={CiSettings().action: REPO_ROOT},
    )


def _logs(results: dict[str, Any]) -> str:
    return "\n".join(f"{name}: {r.status}\n{r.log}" for name, r in results.items())


def test_github_workflow_production_moves_only_in_the_approved_job(world: dict[str, Any]) -> None:
    scratch = world["tmp"] / "look"
    before = _production(world["bare"], scratch)
    assert _served(before) == {f"s3://models/{MODEL}/11", f"s3://models/{MODEL}/12"}
    with FakeKfp() as kfp:
        runner = _runner(world, kfp)
        results = runner.run_github(world["workflow"])
        summary = {name: r.status for name, r in results.items()}
        assert summary == {"lint_and_test": "success", "validate_data": "success", "train_model": "success",
                           "evaluate_against_baseline": "success", "deploy_to_staging": "success",
                           "canary_deploy_production": "waiting", "advance_rollout": "skipped"}, _logs(results)
        # mlspec came from the Action's own checkout, installed once in each job that ran.
        installs = (world["tmp"] / "pip.log").read_text().splitlines()
        assert installs == [f"pip {REPO_ROOT}"] * 5
        # Staging got version 13; production is byte for byte what it was.
        assert _production(world["bare"], scratch) == before
        staging = (scratch / f"models/{MODEL}/kserve/staging/inferenceservice.yaml").read_text()
        assert f"s3://models/{MODEL}/13" in staging
        # One training run, with a run-unique id and production's baseline, accepted by kfp_server_api.
        assert kfp.problems == []
        assert len(kfp.runs) == 1
        params = kfp.runs[0]["runtime_config"]["parameters"]
        assert params == {"run_id": "4242-1", "baseline_auc": 0.94,
                          "model_output_uri": f"s3://models/{MODEL}/13/runs/4242-1"}
        # Approval releases production: the new version's first stage, and nothing further.
        results = runner.run_github(world["workflow"], approve=world["protected"])
        assert results["canary_deploy_production"].status == "success", _logs(results)
    after = _production(world["bare"], scratch)
    assert _served(after) == {f"s3://models/{MODEL}/12", f"s3://models/{MODEL}/13"}
    assert yaml.safe_load(after["kustomization.yaml"])["resources"][-1] == "stages/shadow"


def test_scheduled_rollout_waits_for_the_release_and_asks_prometheus(world: dict[str, Any]) -> None:
    scratch = world["tmp"] / "look"
    before = _production(world["bare"], scratch)
    binary = require_tool("prometheus")
    with FakeKfp() as kfp, LocalPrometheus(binary, [], [], workdir=world["tmp"] / "prom") as prom:
        # Staging is deployed and the release waits for approval (the push pipeline up to there is
        # executed by the test above; here its two deployment commands stand in for it).
        _deploy(world, "--hold", "production")
        scheduled = _runner(world, kfp, event="schedule", prometheus=prom.url)
        results = scheduled.run_github(world["workflow"])
        assert {n for n, r in results.items() if r.status == "success"} == {"advance_rollout"}, _logs(results)
        assert "waiting for the approved release" in results["advance_rollout"].log
        assert _production(world["bare"], scratch) == before
        # After the release, the scheduled job asks the gate (a 24 h shadow hold: not yet) and moves nothing.
        _deploy(world)  # the approved release
        released = _production(world["bare"], scratch)
        assert released != before
        again = _runner(world, kfp, event="schedule", prometheus=prom.url).run_github(world["workflow"])
        assert again["advance_rollout"].status == "success", _logs(again)
        assert "gate does not pass yet" in again["advance_rollout"].log
        assert _production(world["bare"], scratch) == released
        # Without the Prometheus URL the gate cannot run: the job fails instead of passing silently.
        blind = _runner(world, kfp, event="schedule").run_github(world["workflow"])
        assert blind["advance_rollout"].status == "failure"


def test_gitlab_pipeline_production_moves_only_in_the_manual_job(world: dict[str, Any]) -> None:
    scratch = world["tmp"] / "look"
    before = _production(world["bare"], scratch)
    with FakeKfp() as kfp:
        runner = _runner(world, kfp)
        results = runner.run_gitlab(world["pipeline"])
        assert results["deploy_to_staging"].status == "success", _logs(results)
        assert results["canary_deploy_production"].status == "waiting"
        assert _production(world["bare"], scratch) == before
        assert kfp.problems == []
        assert kfp.runs[0]["runtime_config"]["parameters"]["run_id"] == "777-778"
        results = runner.run_gitlab(world["pipeline"], approve=frozenset({"canary_deploy_production"}))
        assert results["canary_deploy_production"].status == "success", _logs(results)
    assert f"s3://models/{MODEL}/13" in _served(_production(world["bare"], scratch))


def test_runner_binds_only_what_the_action_declares(tmp_path: Path) -> None:
    """The local `uses:` resolution refuses what GitHub would refuse or what it does not model."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    ref = CiSettings().action
    runner = Runner(checkout=checkout, work=tmp_path, secrets={}, variables={}, path=env_path(tmp_path / "none"),
                    local_actions={ref: REPO_ROOT})
    job = {"runs-on": "ubuntu-24.04", "steps": [{"uses": ref, "with": {"command": "setup", "no-such-input": "x"}}]}
    with pytest.raises(Refused, match="no-such-input"):
        runner.run_github({"on": {"push": {}}, "jobs": {"a": job}})
    # An unknown command fails the job in the Action's own first step, as it would on GitHub.
    job["steps"] = [{"uses": ref, "with": {"command": "deploy-everything"}}]
    failed = Runner(checkout=checkout, work=tmp_path, secrets={}, variables={}, path=env_path(tmp_path / "none"),
                    local_actions={ref: REPO_ROOT}).run_github({"on": {"push": {}}, "jobs": {"a": job}})
    assert failed["a"].status == "failure"
    assert "unknown command 'deploy-everything'" in failed["a"].log
