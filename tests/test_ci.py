"""The ci target: judged by actionlint and check-jsonschema's vendor schemas, plus our own graph checks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import ValidationError
from tools import REPO_ROOT, require_tool, run_tool

from compiler.pipeline import run
from golden import GOLDEN, SPECS, check_tree, registry_of, render_examples
from targets.ci import CiTarget, datacheck
from targets.ci.jobs import ROLLOUT_JOB
from targets.ci.repository import repository_settings
from targets.ci.settings import DEFAULT_ACTION, DEFAULT_ACTIONS, STAGES, CiSettings

GITHUB_HOSTED_LIMIT = 360  # minutes a job may run on a GitHub-hosted runner

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
NASTY = ('"; rm -rf / #', "${{ github.token }}", "$(id)", "`id`")


class BothSettings(CiSettings):
    provider: Literal["github", "gitlab", "both"] = "both"


class BothCi(CiTarget):
    """The ci target rendering both providers, so every test and the golden tree cover GitLab too."""

    settings_model = BothSettings


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return render_examples(BothCi()).files()


def _docs(files: dict[str, bytes], suffix: str) -> dict[str, dict[str, Any]]:
    return {rel: yaml.safe_load(data) for rel, data in files.items() if rel.endswith(suffix)}


def _workflows(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return _docs(files, "/github-workflow.yaml")


def _pipelines(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return _docs(files, "/gitlab-ci.yaml")


def _write_repo(files: dict[str, bytes], root: Path) -> tuple[list[Path], list[Path]]:
    """actionlint wants workflows under .github/workflows of a repository. Our Action sits at the
    repository's root and the workflows call it as `./`, so actionlint reads its inputs (it cannot fetch
    a remote action) and refuses an input the Action does not declare."""
    (root / ".git").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "action.yml", root / "action.yml")
    workflows, pipelines = [], []
    for rel, data in sorted(files.items()):
        name = rel.split("/")[1]
        if rel == "ci/github-review-workflow.yaml":
            path = root / ".github" / "workflows" / "mlspec-review.yaml"
            workflows.append(path)
        elif rel.endswith("/github-workflow.yaml"):
            path = root / ".github" / "workflows" / f"mlspec-{name}.yaml"
            workflows.append(path)
        elif rel.endswith("/gitlab-ci.yaml"):
            path = root / "gitlab" / f"{name}.yaml"
            pipelines.append(path)
        else:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.replace(f"uses: {DEFAULT_ACTION}\n".encode(), b"uses: ./\n"))
    return workflows, pipelines


def _validate(files: dict[str, bytes], root: Path) -> None:
    actionlint = require_tool("actionlint")
    shellcheck = require_tool("shellcheck")  # without it actionlint silently skips every `run:` script
    checker = require_tool("check-jsonschema")
    workflows, pipelines = _write_repo(files, root)
    assert workflows
    assert pipelines
    result = run_tool([actionlint, "-no-color", f"-shellcheck={shellcheck}",
                       *[p.relative_to(root) for p in workflows]], cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    for schema, paths in (("vendor.github-workflows", workflows), ("vendor.gitlab-ci", pipelines)):
        result = run_tool([checker, "--builtin-schema", schema, *paths])
        assert result.returncode == 0, result.stdout + result.stderr


def test_golden(rendered: dict[str, bytes], update_golden: bool) -> None:
    check_tree(rendered, GOLDEN / "ci", update_golden)


def test_real_validators_accept_every_example(rendered: dict[str, bytes], tmp_path: Path) -> None:
    _validate(rendered, tmp_path)


def test_validators_can_fail(tmp_path: Path) -> None:
    """A workflow needing a missing job and a pipeline with a bad key are caught: the check is live."""
    bad = {"models/x/ci/github-workflow.yaml": yaml.safe_dump({
        "on": "push", "jobs": {"a": {"runs-on": "ubuntu-24.04", "needs": ["nope"], "steps": [{"run": "true"}]}}
    }).encode(), "models/x/ci/gitlab-ci.yaml": b"job: {script: [true], when: sometimes}\n"}
    actionlint = require_tool("actionlint")
    checker = require_tool("check-jsonschema")
    workflows, pipelines = _write_repo(bad, tmp_path)
    assert run_tool([actionlint, "-no-color", workflows[0].relative_to(tmp_path)], cwd=tmp_path).returncode != 0
    # shellcheck through actionlint: an unquoted variable in a `run:` script is a finding.
    shell = tmp_path / "shell"
    (shell / ".github" / "workflows").mkdir(parents=True)
    (shell / ".git").mkdir()
    (shell / ".github" / "workflows" / "w.yaml").write_text(yaml.safe_dump({
        "on": "push", "jobs": {"a": {"runs-on": "ubuntu-24.04", "steps": [{"run": "cp $SRC dest"}]}}}))
    found = run_tool([actionlint, "-no-color", f"-shellcheck={require_tool('shellcheck')}",
                      ".github/workflows/w.yaml"], cwd=shell)
    assert found.returncode != 0
    assert "SC2086" in found.stdout
    assert run_tool([checker, "--builtin-schema", "vendor.gitlab-ci", pipelines[0]]).returncode != 0


def graph_problems(needs: dict[str, list[str]]) -> list[str]:
    """Every need exists, no cycle, and the six stages form the required chain in order."""
    problems = [f"{job} needs unknown {n}" for job, ns in needs.items() for n in ns if n not in needs]
    state: dict[str, int] = {}

    def visit(job: str, trail: tuple[str, ...]) -> None:
        if state.get(job) == 2:
            return
        if state.get(job) == 1:
            problems.append("cycle: " + " -> ".join((*trail, job)))
            return
        state[job] = 1
        for n in needs.get(job, []):
            if n in needs:
                visit(n, (*trail, job))
        state[job] = 2

    for job in sorted(needs):
        visit(job, ())
    if list(needs) != list(STAGES):
        problems.append(f"jobs {list(needs)} are not the stages in order")
    for i, stage in enumerate(STAGES[1:], 1):
        if needs.get(stage) != [STAGES[i - 1]]:
            problems.append(f"{stage} must need exactly {STAGES[i - 1]}")
    return problems


def test_graph_checker_finds_problems() -> None:
    assert graph_problems({s: ([STAGES[i - 1]] if i else []) for i, s in enumerate(STAGES)}) == []
    assert any("unknown" in p for p in graph_problems({"a": ["b"]}))
    assert any("cycle" in p for p in graph_problems({"a": ["b"], "b": ["a"]}))
    swapped = {s: ([STAGES[i - 1]] if i else []) for i, s in enumerate(STAGES)}
    swapped["train_model"] = ["lint_and_test"]
    assert graph_problems(swapped)


def test_stage_graph(rendered: dict[str, bytes]) -> None:
    for rel, doc in _workflows(rendered).items():
        six = {j: spec.get("needs", []) for j, spec in doc["jobs"].items() if j in STAGES}
        assert graph_problems(six) == [], rel
        assert set(doc["jobs"]) - set(STAGES) <= {ROLLOUT_JOB}, rel
    for rel, doc in _pipelines(rendered).items():
        assert doc["stages"][:6] == list(STAGES), rel
        assert doc["stages"][6:] in ([], [ROLLOUT_JOB]), rel
        jobs = {k: v for k, v in doc.items() if k in STAGES}
        assert graph_problems({j: [n["job"] for n in v["needs"]] for j, v in jobs.items()}) == [], rel
        assert all(v["stage"] == j for j, v in jobs.items())


def test_workflow_hardening(rendered: dict[str, bytes]) -> None:
    for rel, doc in _workflows(rendered).items():
        assert doc["permissions"] == {"contents": "read"}, rel
        assert doc["concurrency"]["cancel-in-progress"] is False
        for name, job in doc["jobs"].items():
            assert isinstance(job["timeout-minutes"], int), (rel, name)
            assert set(job.get("permissions", {"contents": "read"})) <= {"contents", "packages"}
            if "concurrency" in job:
                assert job["concurrency"]["cancel-in-progress"] is False
            for step in job["steps"]:
                if "uses" in step and step["uses"] != DEFAULT_ACTION:
                    assert SHA_PIN.match(step["uses"]), step["uses"]
                if "run" in step:
                    assert "${{" not in step["run"], (rel, name, step["name"])
                if step.get("uses") == DEFAULT_ACTION:
                    # The Action's inputs read job variables; spec text never becomes an expression.
                    for value in step["with"].values():
                        for expr in re.findall(r"\$\{\{.*?\}\}", str(value)):
                            assert re.fullmatch(r"\$\{\{ env\.[A-Z][A-Z0-9_]* \}\}", expr), (rel, name, value)
        prod = doc["jobs"]["canary_deploy_production"]
        assert prod["environment"]["name"] == "production" or prod["environment"]["name"] == "pilot-stores"


def test_outputs_pass_between_jobs(rendered: dict[str, bytes]) -> None:
    doc = _workflows(rendered)["models/fraud-detector/ci/github-workflow.yaml"]
    jobs = doc["jobs"]
    assert set(jobs["lint_and_test"]["outputs"]) == {"model_version", "data_hash", "image_tag"}
    assert "image_digest" in jobs["train_model"]["outputs"]
    assert jobs["canary_deploy_production"]["env"]["IMAGE_TAG"] == \
        "${{ needs.deploy_to_staging.outputs.image_tag }}"


def _calls(job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The job's calls of the mlspec Action: (command, the other inputs)."""
    return [(step["with"]["command"], {k: v for k, v in step["with"].items() if k != "command"})
            for step in job["steps"] if step.get("uses") == DEFAULT_ACTION]


def _action_commands() -> set[str]:
    """The commands action.yml accepts, read from its own check (so a renamed command fails here)."""
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    check = next(s for s in action["runs"]["steps"] if s.get("id") == "installed")["run"]
    return set(re.search(r"^\s*([a-z|-]+)\) ;;$", check, re.MULTILINE).group(1).split("|"))  # type: ignore[union-attr]


def test_stage_commands(rendered: dict[str, bytes]) -> None:
    jobs = _workflows(rendered)["models/fraud-detector/ci/github-workflow.yaml"]["jobs"]

    def runs(job: str) -> str:
        return "\n".join(s.get("run", "") for s in jobs[job]["steps"])

    def commands(job: str) -> list[str]:
        return [command for command, _ in _calls(jobs[job])]

    spec = "${{ env.SPEC_PATH }}"
    # Every mlspec step is a call of the Action; no job installs or runs mlspec itself.
    for name, job in jobs.items():
        assert "mlspec " not in runs(name).replace("mlspec-ci", ""), name
        assert "pip install \"mlspec" not in runs(name), name
        assert commands(name)[0] == "setup", name
        assert _calls(job)[0][1] == {"python-version": "3.11"}
    assert commands("lint_and_test") == ["setup", "lint"]
    assert _calls(jobs["lint_and_test"])[1][1] == {"specs": spec}
    assert "dvc get" in runs("validate_data")
    assert commands("validate_data") == ["setup", "data-check"]
    assert commands("train_model") == ["setup", "render", "train"]
    train = _calls(jobs["train_model"])[2][1]
    assert train["run-id"] == "${{ env.RUN_ID }}"
    assert train["package"] == "rendered/models/fraud-detector/kubeflow/pipeline.yaml"
    assert train["run-name"] == "${{ env.MODEL_NAME }}-${{ env.IMAGE_TAG }}"
    assert "org.opencontainers.image.revision=$CODE_COMMIT" in runs("train_model")
    assert jobs["train_model"]["env"]["IMAGE_TAG"].startswith("${{ needs.validate_data")
    assert _calls(jobs["evaluate_against_baseline"])[1] == ("gate", {
        "specs": spec, "candidate": "${{ env.CANDIDATE_METRICS }}", "baseline": "${{ env.BASELINE_METRICS }}",
        "verdict": "${{ env.GATE_VERDICT }}"})
    assert _calls(jobs["deploy_to_staging"])[1] == ("deploy", {
        "specs": spec, "deploy-path": "deploy", "hold": "${{ env.PRODUCTION_ENV }}"})
    assert jobs["deploy_to_staging"]["env"]["PRODUCTION_ENV"] == "production"
    # The release commits the first stage; the scheduled job walks the rest, one stage per run.
    assert _calls(jobs["canary_deploy_production"])[1] == ("deploy", {"specs": spec, "deploy-path": "deploy"})
    assert jobs["canary_deploy_production"]["environment"] == {"name": "production"}
    assert _calls(jobs[ROLLOUT_JOB])[1] == ("advance", {
        "specs": spec, "deploy-path": "deploy", "model": "${{ env.MODEL_NAME }}",
        "environment": "${{ env.ROLLOUT_ENV }}", "prometheus-url": "${{ env.MLSPEC_PROMETHEUS_URL }}"})
    assert jobs[ROLLOUT_JOB]["env"]["MLSPEC_PROMETHEUS_URL"] == "${{ vars.MLSPEC_PROMETHEUS_URL }}"
    assert "environment" not in jobs[ROLLOUT_JOB]
    assert all(job["timeout-minutes"] <= GITHUB_HOSTED_LIMIT for job in jobs.values())


def test_every_call_names_a_command_the_action_has(rendered: dict[str, bytes]) -> None:
    known = _action_commands()
    assert {"setup", "lint", "gate", "deploy", "advance"} <= known
    used = {command for doc in _workflows(rendered).values() for job in doc["jobs"].values()
            for command, _ in _calls(job)}
    assert used
    assert used <= known, used - known


def test_the_action_ref_is_a_release_or_a_commit() -> None:
    assert DEFAULT_ACTION == "mlspec/mlspec@v0.1.0"  # the compiler's own version
    sha = "b" * 40
    assert CiSettings(action=f"acme/mlspec@{sha}").action == f"acme/mlspec@{sha}"
    for moving in ("mlspec/mlspec@main", "mlspec/mlspec", "mlspec/mlspec@v1; id", "mlspec/mlspec@latest"):
        with pytest.raises(ValidationError):
            CiSettings(action=moving)


def test_gitlab_production_is_a_blocking_manual_job(rendered: dict[str, bytes]) -> None:
    doc = _pipelines(rendered)["models/fraud-detector/ci/gitlab-ci.yaml"]
    rule = doc["canary_deploy_production"]["rules"][0]
    assert rule["when"] == "manual"
    assert rule["allow_failure"] is False
    assert doc["canary_deploy_production"]["interruptible"] is False
    assert doc["canary_deploy_production"]["resource_group"] == "mlspec-fraud-detector-production"
    for name, value in doc["validate_data"]["variables"].items():
        assert value["expand"] is False, name


def test_edge_models_are_packaged_not_deployed(rendered: dict[str, bytes]) -> None:
    jobs = _workflows(rendered)["models/shelf-vision-edge/ci/github-workflow.yaml"]["jobs"]
    staging = "\n".join(s.get("run", "") for s in jobs["deploy_to_staging"]["steps"])
    assert "mlspec commit" not in staging
    assert "docker build" in staging
    assert "$EDGE_FORMAT" in staging
    assert jobs["deploy_to_staging"]["env"]["EDGE_FORMAT"] == "onnx"
    prod = "\n".join(s.get("run", "") for s in jobs["canary_deploy_production"]["steps"])
    assert "mlspec rollout" not in prod


def test_repository_settings_list_approvers(rendered: dict[str, bytes]) -> None:
    doc = yaml.safe_load(rendered["ci/repository-settings.yaml"])
    prod = next(e for e in doc["environments"] if e["name"] == "production")
    assert prod["approval_required"] is True
    assert {"handle": "@acme/fraud-ml", "type": "Team"} in prod["required_reviewers"]
    assert "fraud-detector" in prod["models"]
    assert doc["secrets"] == ["MLSPEC_DEPLOY_TOKEN"]


def test_action_pins_are_configurable() -> None:
    sha = "a" * 40
    settings = CiSettings(actions={"actions/checkout": sha})
    assert settings.pinned("actions/checkout") == f"actions/checkout@{sha}"
    assert settings.pinned("actions/setup-python").endswith(DEFAULT_ACTIONS["actions/setup-python"])
    with pytest.raises(ValidationError):
        CiSettings(actions={"actions/checkout": "v4"})
    with pytest.raises(ValidationError):
        CiSettings(provider="jenkins")  # type: ignore[arg-type]


def _nasty_spec(tmp_path: Path, version: str = "12") -> Path:
    data = yaml.safe_load((SPECS / "fraud-detector.yaml").read_text())
    data["metadata"]["description"] = " ".join(NASTY)
    data["pipeline"]["steps"][0]["args"] = list(NASTY)
    data["model"]["version"] = version
    data["model"]["uri"] = "s3://models/${{ github.token }}/$(id)"
    # lint refuses whitespace in a repository URL (MLS241), so the shell payload does without
    data["model"]["code"]["repo"] = 'https://github.com/acme/fraud";rm${IFS}-rf${IFS}/#'
    data["data"]["dvc"]["path"] = "data/${{ secrets.MLSPEC_DEPLOY_TOKEN }}.csv"
    data["data"]["features"][2]["allowed"] = ["DE", "$(id)", "${{ github.token }}"]
    (tmp_path / "specs").mkdir(parents=True)
    path = tmp_path / "specs" / "fraud-detector.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / ".git").mkdir()
    return path


def test_untrusted_spec_values_never_reach_a_script(tmp_path: Path) -> None:
    spec = _nasty_spec(tmp_path / "repo")
    result = run([spec], root=tmp_path / "repo", render=True, registry=registry_of(BothCi()), jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    files = {k: v for k, v in result.files().items() if k.startswith("models/")}
    workflow = _workflows(files)["models/fraud-detector/ci/github-workflow.yaml"]
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for bad in (*NASTY, "rm -rf", "rm${IFS}", "github.token", "secrets.MLSPEC_DEPLOY_TOKEN"):
                assert bad not in step.get("run", ""), (step["name"], bad)
                assert not any(bad in str(v) for v in (step.get("with") or {}).values()), (step["name"], bad)
        for value in job["env"].values():
            # every `${{` that came from the spec is neutralized into a literal
            assert "${{ github.token }}" not in value
    validate_env = workflow["jobs"]["validate_data"]["env"]
    assert validate_env["DATA_LOCATION"] == "data/${{ '${{' }} secrets.MLSPEC_DEPLOY_TOKEN }}.csv"
    pipeline = _pipelines(files)["models/fraud-detector/ci/gitlab-ci.yaml"]
    for name, job in pipeline.items():
        if name in STAGES:
            assert not any(bad in line for line in job["script"] for bad in NASTY)
    assert pipeline["train_model"]["variables"]["CODE_REPO"] == {
        "value": 'https://github.com/acme/fraud";rm${IFS}-rf${IFS}/#', "expand": False}
    _validate(files, tmp_path / "lint")


def test_unsafe_model_version_is_a_diagnostic(tmp_path: Path) -> None:
    spec = _nasty_spec(tmp_path, version="12 image_tag=evil")
    result = run([spec], root=tmp_path, render=True, registry=registry_of(BothCi()), jobs=1)
    codes = {d.code for d in result.diagnostics}
    assert "CI001" in codes


def test_datacheck_verifies_pin_and_features(tmp_path: Path) -> None:
    data = tmp_path / "data-pin"
    data.write_text("amount,country\n10.5,DE\n3,FR\n")
    digest = datacheck.file_digest(data, "sha256")
    features = [
        {"name": "amount", "min": 0, "max": None, "allowed": None, "nullable": False, "max_null_fraction": None},
        {"name": "country", "min": None, "max": None, "allowed": ["DE", "FR"], "nullable": False,
         "max_null_fraction": None}]
    env = {"DATA_PIN_KIND": "file", "DATA_DIGEST": digest, "DATA_LOCATION": "s3://bucket/x.csv",
           "FEATURE_EXPECTATIONS": json.dumps(features)}
    assert datacheck.main(env, tmp_path) == 0
    assert datacheck.main({**env, "DATA_DIGEST": "0" * 64}, tmp_path) == 1
    assert datacheck.main({**env, "FEATURE_EXPECTATIONS": "{"}, tmp_path) == 2
    data.write_text("amount,country\n-1,XX\n,DE\n")
    assert datacheck.main({**env, "DATA_DIGEST": datacheck.file_digest(data, "sha256")}, tmp_path) == 1
    problems = datacheck.check_features(datacheck._csv_rows(data), features)
    assert any("below the minimum" in p for p in problems)
    assert any("not one of the allowed" in p for p in problems)
    assert any("null value" in p for p in problems)
    assert datacheck.check_features(iter([{"amount": "1"}]), features) == ["country: column is missing"]


def test_datacheck_compares_dvc_file(tmp_path: Path) -> None:
    (tmp_path / "data-pin").write_bytes(b"hello\n")
    md5 = datacheck.file_digest(tmp_path / "data-pin", "md5")
    (tmp_path / "data-pin.dvc").write_text(f"outs:\n- md5: {md5}\n  path: data.csv\n")
    assert datacheck.check_pin("dvc", md5, tmp_path / "data-pin", tmp_path / "data-pin.dvc") == []
    other = "0" * 32
    assert datacheck.check_pin("dvc", other, tmp_path / "data-pin", tmp_path / "data-pin.dvc") != []


def test_models_without_rollout_are_released_without_rollout_commands(rendered: dict[str, bytes]) -> None:
    """A batch model has no rollout: `rollout advance` would exit 2, so neither job may call it."""
    jobs = _workflows(rendered)["models/churn-scorer/ci/github-workflow.yaml"]["jobs"]
    assert ROLLOUT_JOB not in jobs
    assert [c for c, _ in _calls(jobs["canary_deploy_production"])] == ["setup", "deploy"]
    gitlab = _pipelines(rendered)["models/churn-scorer/ci/gitlab-ci.yaml"]
    assert ROLLOUT_JOB not in gitlab


def test_install_pins_our_distribution_not_the_squatted_name(rendered: dict[str, bytes]) -> None:
    for rel, doc in _pipelines(rendered).items():
        for name in STAGES[:5]:
            assert doc[name]["script"][0] == 'python -m pip install "mlspec-compiler==0.1.0"', (rel, name)


def test_prompt_pin_is_checked_in_ci(rendered: dict[str, bytes], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = _workflows(rendered)["models/support-assistant/ci/github-workflow.yaml"]["jobs"]
    steps = {s["name"]: s.get("run", "") for s in jobs["validate_data"]["steps"]}
    assert 'git -C prompt-source show "FETCH_HEAD:$PROMPT_PATH" > prompt-pin' in steps["Fetch the pinned prompt"]
    assert list(steps).index("Fetch the pinned prompt") < list(steps).index("Check pins and features")
    env = jobs["validate_data"]["env"]
    assert env["PROMPT_PATH"] == "prompts/draft-reply.jinja"
    assert re.fullmatch(r"[0-9a-f]{64}", env["PROMPT_SHA256"])
    fraud = _workflows(rendered)["models/fraud-detector/ci/github-workflow.yaml"]["jobs"]["validate_data"]
    assert "PROMPT_SHA256" not in fraud["env"]
    # The check itself, through the public verb the workflow calls.
    from click.testing import CliRunner

    from compiler.cli import cli

    data = tmp_path / "data-pin"
    data.write_text("a\n1\n")
    prompt = tmp_path / "prompt-pin"
    prompt.write_text("Draft a reply to {{ ticket }}\n")
    base = {"DATA_PIN_KIND": "file", "DATA_DIGEST": datacheck.file_digest(data, "sha256"),
            "FEATURE_EXPECTATIONS": "[]", "PROMPT_SHA256": datacheck.file_digest(prompt, "sha256")}
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)  # the verb reads ./data-pin and ./prompt-pin, like the CI job
    assert runner.invoke(cli, ["data", "check"], env=base).exit_code == 0
    changed = runner.invoke(cli, ["data", "check"], env={**base, "PROMPT_SHA256": "0" * 64})
    assert changed.exit_code == 1
    assert "prompt file hashes to" in changed.output
    prompt.unlink()
    assert runner.invoke(cli, ["data", "check"], env=base).exit_code == 1


def test_concurrency_groups_name_real_environments(rendered: dict[str, bytes]) -> None:
    for rel, doc in _workflows(rendered).items():
        assert "${{ github.event_name }}" in doc["concurrency"]["group"], rel
        groups = {name: job["concurrency"]["group"] for name, job in doc["jobs"].items() if "concurrency" in job}
        assert not any("None" in group for group in groups.values()), (rel, groups)
        if ROLLOUT_JOB in groups:
            assert groups[ROLLOUT_JOB] != groups["canary_deploy_production"], rel
    for rel, doc in _pipelines(rendered).items():
        groups = [str(job.get("resource_group", "")) for job in doc.values() if isinstance(job, dict)]
        assert not any("None" in group for group in groups), rel


@pytest.mark.parametrize("settings", [BothSettings(), CiSettings(environmentPerModel=True)])
def test_repository_settings_from_the_models_shares_are_the_ones_built_from_their_jobs(settings: CiSettings) -> None:
    """The shares each spec computed where it rendered (CiTarget.project_part) stand for building every
    model's jobs again; a plan without a share is built the slow way."""
    target = BothCi()
    result = render_examples(target)
    plans = sorted((s.plan for s in result.specs if s.plan is not None), key=lambda p: p.name)
    shares = {p.provenance.spec_path: target.project_part(p, settings, {}) for p in plans}
    expected = repository_settings(plans, settings)
    assert repository_settings(plans, settings, shares) == expected
    assert repository_settings(plans, settings, dict(list(shares.items())[1:])) == expected
    assert {s.rel_path: s.parts["ci"] for s in result.specs} == {
        p: target.project_part(plan, BothSettings(), {}) for p, plan in ((p.provenance.spec_path, p) for p in plans)}
    assert any(env["approval_required"] and env["required_reviewers"] for env in expected["environments"])
