"""The GitLab CI pipeline: the same six jobs; outputs travel as dotenv reports."""

from __future__ import annotations

from typing import Any

from compiler.planning.plan import Plan
from targets.ci.jobs import (
    ALL_OUTPUTS,
    DOTENV,
    ROLLOUT_JOB,
    EnvValue,
    Job,
    Lit,
    Output,
    Secret,
    Var,
    build_jobs,
    common_env,
)
from targets.ci.settings import STAGES, CiSettings

_MAIN_ONLY = ("train_model", "evaluate_against_baseline", "deploy_to_staging", "canary_deploy_production")


def _variable(value: EnvValue) -> Any:
    if isinstance(value, Lit):
        # expand: false: GitLab would otherwise expand `$NAME` inside spec text.
        return {"value": value.value, "expand": False}
    if isinstance(value, Secret | Var):
        return f"${value.name}"
    if isinstance(value, Output):
        raise AssertionError("outputs arrive through the dotenv report")
    return value.gitlab


def _dotenv(names: list[str]) -> str:
    lines = [f"  printf '{n.upper()}=%s\\n' \"${n.upper()}\"" for n in names]
    return "{\n" + "\n".join(lines) + f"\n}} > {DOTENV}"


def _job(job: Job, plan: Plan, settings: CiSettings) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": job.stage}
    out["needs"] = [{"job": n, "artifacts": True} for n in job.needs]
    on_branch = f'$CI_COMMIT_BRANCH == "{settings.default_branch}"'
    if job.scheduled:
        out["rules"] = [{"if": f'$CI_PIPELINE_SOURCE == "schedule" && {on_branch}'}]
    elif job.stage in _MAIN_ONLY:
        rule: dict[str, Any] = {"if": f'$CI_PIPELINE_SOURCE != "schedule" && {on_branch}'}
        if job.approval:
            # A manual job is skipped-and-green unless allow_failure is false: then it blocks.
            rule.update({"when": "manual", "allow_failure": False})
        out["rules"] = [rule]
    else:
        out["rules"] = [{"if": '$CI_PIPELINE_SOURCE != "schedule"'}]
    out["timeout"] = f"{job.timeout_minutes} minutes"
    out["interruptible"] = not job.deploys
    if job.environment is not None:
        tier = "production" if job.stage in ("canary_deploy_production", ROLLOUT_JOB) else "staging"
        out["environment"] = {"name": job.environment, "deployment_tier": tier}
    if job.deploys:
        out["resource_group"] = f"mlspec-{plan.name}-{job.lock or job.environment}"
    variables = {name: _variable(value) for name, value in job.env if not isinstance(value, Output)}
    if job.docker:
        out["services"] = [settings.gitlab_docker_service]
        variables.update({"DOCKER_HOST": "tcp://docker:2375", "DOCKER_TLS_CERTDIR": ""})
    out["variables"] = variables
    script: list[str] = []
    for step in job.steps:
        script.append(step.script)
        script.extend(f"export {name}" for name in step.exports)
    names = [n for n in ALL_OUTPUTS if n.upper() in dict(job.env) or
             any(n.upper() in s.exports for s in job.steps)]
    script.append(_dotenv(names))
    out["script"] = script
    artifacts: dict[str, Any] = {"reports": {"dotenv": DOTENV}}
    if job.artifact is not None:
        artifacts.update({"paths": [job.artifact], "when": "always",
                          "expire_in": f"{settings.verdict_retention_days} days"})
    out["artifacts"] = artifacts
    return out


def pipeline(plan: Plan, settings: CiSettings) -> dict[str, Any]:
    spec = plan.provenance.spec_path
    jobs = build_jobs(plan, settings)
    stages = list(STAGES) + [job.stage for job in jobs if job.stage not in STAGES]
    doc: dict[str, Any] = {
        "workflow": {
            "name": f"mlspec {plan.name}",
            "rules": [
                {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "changes": [spec]},
                {"if": f'$CI_COMMIT_BRANCH == "{settings.default_branch}"', "changes": [spec]},
                {"if": '$CI_PIPELINE_SOURCE == "web"'},
                # Pipeline schedules (project settings) run advance_rollout, see ci/repository-settings.yaml.
                {"if": '$CI_PIPELINE_SOURCE == "schedule"'},
            ],
        },
        "stages": stages,
        "default": {"image": settings.gitlab_image},
        "variables": {name: _variable(value) for name, value in common_env(plan)},
    }
    for job in jobs:
        doc[job.stage] = _job(job, plan, settings)
    return doc
