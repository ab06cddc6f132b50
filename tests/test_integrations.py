"""The reusable GitHub Action and the GitLab CI template for spec repositories.

Judged by the consumers' validators (check-jsonschema's vendored schemas, actionlint reading the
action's metadata from a workflow that uses it) and by running the action's own `run:` scripts under
bash with the variables the runner provides, against real git repositories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from forge_stub import forge_stub
from tools import REPO_ROOT, require_tool, run_tool

from compiler.deploy.review_comment import MARKER

ACTION = REPO_ROOT / "action.yml"
EXAMPLE_WORKFLOW = REPO_ROOT / "integrations" / "github" / "spec-repository.yaml"
GITLAB_TEMPLATE = REPO_ROOT / "integrations" / "gitlab" / "mlspec.gitlab-ci.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([a-z_.-]+)\s*\}\}")


def _action() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text()))


def test_action_and_template_pass_the_vendored_schemas() -> None:
    checker = require_tool("check-jsonschema")
    for schema, path in (("vendor.github-actions", ACTION), ("vendor.github-workflows", EXAMPLE_WORKFLOW),
                         ("vendor.gitlab-ci", GITLAB_TEMPLATE)):
        result = run_tool([checker, "--builtin-schema", schema, path])
        assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_checks_a_workflow_using_the_action(tmp_path: Path) -> None:
    actionlint = require_tool("actionlint")
    _repo(tmp_path)  # actionlint resolves `uses: ./` from the repository root
    shutil.copy(ACTION, tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = re.sub(r"OWNER/mlspec@[0-9a-f]{40}", "./", EXAMPLE_WORKFLOW.read_text())
    (workflows / "mlspec.yaml").write_text(text)
    result = run_tool([actionlint, "-no-color", "-shellcheck=", ".github/workflows/mlspec.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # actionlint really reads the action's inputs: an unknown input is refused.
    (workflows / "mlspec.yaml").write_text(text.replace("deploy-path: deploy", "deploy-paht: deploy"))
    result = run_tool([actionlint, "-no-color", "-shellcheck=", ".github/workflows/mlspec.yaml"], cwd=tmp_path)
    assert result.returncode == 1
    assert "deploy-paht" in result.stdout


def test_action_inputs_reach_scripts_only_through_env() -> None:
    """Untrusted values (spec paths, refs) never sit inside a `run:` script (script injection)."""
    for step in _action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


# --- the action's scripts, executed ----------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.email", "ci@example.com")
    _git(path, "config", "user.name", "ci")
    return path


def _bin_dir(tmp_path: Path) -> Path:
    """`mlspec` on PATH as this checkout's command line, as the action's install step would leave it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "mlspec"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m compiler \"$@\"\n")
    shim.chmod(0o755)
    return bin_dir


def _run_step(name: str, inputs: dict[str, str], github: dict[str, str], cwd: Path, extra: dict[str, str],
              tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run one step of the composite action the way the runner does: `${{ }}` in `env:` resolved from
    the inputs and the github context (anything else refused), the script under `bash -e`."""
    action = _action()
    step = next(s for s in action["runs"]["steps"] if s.get("name") == name)
    github = {"token": "ghs_unused", "action_path": str(REPO_ROOT), "event_name": "pull_request", **github}
    context = {f"github.{k}": v for k, v in github.items()}

    def resolve(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            assert match.group(1) in context, f"unsupported expression {match.group(0)} in step {name}"
            return context[match.group(1)]
        return EXPRESSION.sub(one, value)

    # Input defaults may be expressions themselves (`${{ github.token }}`): the runner evaluates them.
    defaults = {k: resolve(str(v.get("default", ""))) for k, v in action["inputs"].items()}
    context.update({f"inputs.{k}": v for k, v in {**defaults, **inputs}.items()})

    env = {**os.environ, "PATH": f"{_bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO_ROOT), "RUNNER_TEMP": str(tmp_path), **extra}
    env.update({k: resolve(str(v)) for k, v in step.get("env", {}).items()})
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _spec_repo(tmp_path: Path) -> Path:
    repo = _repo(tmp_path / "specs-repo")
    shutil.copytree(REPO_ROOT / "specs", repo / "specs")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "specs")
    return repo


def test_lint_step_annotates_and_sets_its_output(tmp_path: Path) -> None:
    repo = _spec_repo(tmp_path)
    output = tmp_path / "github_output"
    output.touch()
    ok = _run_step("Lint", {}, {}, repo, {"GITHUB_OUTPUT": str(output)}, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert output.read_text() == "findings=false\n"
    spec = repo / "specs" / "fraud-detector.yaml"
    spec.write_text(spec.read_text().replace("framework: xgboost", "framework: xgbost", 1))
    output.write_text("")
    bad = _run_step("Lint", {}, {}, repo, {"GITHUB_OUTPUT": str(output)}, tmp_path)
    assert bad.returncode == 1
    assert output.read_text() == "findings=true\n"
    assert "::error file=specs/fraud-detector.yaml,line=" in bad.stdout


def test_commit_then_check_steps_against_a_real_deployment_repository(tmp_path: Path) -> None:
    repo = _spec_repo(tmp_path)
    deploy = _repo(tmp_path / "deploy")
    (deploy / "README.md").write_text("deployment repository\n")
    _git(deploy, "add", "-A")
    _git(deploy, "commit", "-qm", "init")
    inputs = {"deploy-path": str(deploy), "commit": "true", "push": "false"}
    committed = _run_step("Commit to the deployment repository", inputs, {}, repo, {}, tmp_path)
    assert committed.returncode == 0, committed.stdout + committed.stderr
    assert int(_git(deploy, "rev-list", "--count", "HEAD")) == 2
    assert (deploy / "models" / "fraud-detector").is_dir()
    push = {"event_name": "push"}
    check = _run_step("Render", {"deploy-path": str(deploy)}, push, repo, {}, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = repo / "specs" / "churn-scorer.yaml"
    spec.write_text(spec.read_text().replace("risk: limited", "risk: minimal", 1))
    # On the default branch, a deployment tree behind the specs is drift: the merge was not committed.
    stale = _run_step("Render", {"deploy-path": str(deploy)}, push, repo, {}, tmp_path)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    # A pull request changes specs by definition: it must render, not match the tree
    # the default branch committed, and it writes nothing into the deployment checkout.
    before = _git(deploy, "status", "--porcelain")
    changed = _run_step("Render", {"deploy-path": str(deploy)}, {}, repo, {}, tmp_path)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert _git(deploy, "status", "--porcelain") == before
    spec.write_text(spec.read_text().replace("apiVersion: mlspec/v1", "apiVersion: mlspec/v9", 1))
    broken = _run_step("Render", {"deploy-path": str(deploy)}, {}, repo, {}, tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr


def test_review_step_posts_one_comment_per_pull_request(tmp_path: Path) -> None:
    origin = _spec_repo(tmp_path)
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    _git(clone, "config", "user.email", "dev@example.com")
    _git(clone, "config", "user.name", "dev")
    _git(clone, "checkout", "-q", "-b", "canary-step")
    spec = clone / "specs" / "fraud-detector.yaml"
    text = spec.read_text()
    assert "traffic: 5," in text
    spec.write_text(text.replace("traffic: 5,", "traffic: 10,", 1))
    _git(clone, "commit", "-qam", "canary 5 -> 10")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9}}))
    with forge_stub() as (api, state):
        extra = {"GITHUB_API_URL": api, "GITHUB_REPOSITORY": "acme/specs", "GITHUB_EVENT_PATH": str(event)}
        github = {"base_ref": "main", "token": "ghs_test"}
        for _ in range(2):
            result = _run_step("Review comment", {}, github, clone, extra, tmp_path)
            assert result.returncode == 0, result.stdout + result.stderr
        assert len(state.comments) == 1
        body = state.comments[0]["body"]
        assert body.startswith(MARKER)
        assert "fraud-detector" in body
        assert set(state.auth) == {"Bearer ghs_test"}


def test_lint_writes_a_gitlab_code_quality_report(tmp_path: Path) -> None:
    repo = _spec_repo(tmp_path)
    spec = repo / "specs" / "fraud-detector.yaml"
    spec.write_text(spec.read_text().replace("framework: xgboost", "framework: xgbost", 1))
    result = subprocess.run([sys.executable, "-m", "compiler", "lint", "specs", "--format", "gitlab"], cwd=repo,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 1
    issues = json.loads(result.stdout)
    assert len(issues) == 1
    issue = issues[0]
    assert issue["check_name"] == "MLS104"
    assert issue["location"] == {"path": "specs/fraud-detector.yaml", "lines": {"begin": 31}}
    assert issue["severity"] == "major"
    assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
    assert "xgboost" in issue["description"]


def test_gitlab_review_job_renders_a_merge_request_that_changes_a_spec(tmp_path: Path) -> None:
    """The template's review job, run as GitLab would (its script lines in one `bash -e`), on a merge
    request that changes one spec, with the default branch's deployment tree checked out in `deploy/`."""
    origin = _spec_repo(tmp_path)
    deploy = _repo(tmp_path / "deploy-origin")
    subprocess.run([sys.executable, "-m", "compiler", "commit", "specs", "--repo", str(deploy)], cwd=origin,
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    _git(tmp_path, "clone", "-q", str(deploy), str(clone / "deploy"))
    _git(clone, "config", "user.email", "dev@example.com")
    _git(clone, "config", "user.name", "dev")
    _git(clone, "checkout", "-q", "-b", "canary-step")
    spec = clone / "specs" / "fraud-detector.yaml"
    spec.write_text(spec.read_text().replace("traffic: 5,", "traffic: 10,", 1))
    _git(clone, "commit", "-qam", "canary 5 -> 10")
    job = yaml.safe_load(GITLAB_TEMPLATE.read_text())["mlspec-review"]
    env = {**os.environ, "PATH": f"{_bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO_ROOT), "MLSPEC_SPECS": "specs", "GITLAB_CI": "true",
           "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    env.pop("MLSPEC_GITLAB_TOKEN", None)
    before = _git(clone / "deploy", "status", "--porcelain")
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", "\n".join(job["script"])], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fraud-detector" in (clone / "review.md").read_text()
    assert _git(clone / "deploy", "status", "--porcelain") == before  # the deployment checkout is untouched
    spec.write_text(spec.read_text().replace("apiVersion: mlspec/v1", "apiVersion: mlspec/v9", 1))
    broken = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", "\n".join(job["script"])], cwd=clone,
                            env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert broken.returncode != 0  # a merge request that does not render fails the job
