"""The GitHub Actions workflow: the six jobs as data, every spec value in `env:` and escaped."""

from __future__ import annotations

import re
from typing import Any

from compiler.planning.plan import Plan
from targets.ci.jobs import (
    ALL_OUTPUTS,
    ActionCall,
    EnvRef,
    EnvValue,
    InputValue,
    Job,
    Lit,
    Output,
    Secret,
    Step,
    Var,
    build_jobs,
    common_env,
)
from targets.ci.settings import CiSettings

_GLOB = re.compile(r"([*?\[\]!+])")
# Jobs from here on run only for the default branch: training and deploys are not for pull requests.
_MAIN_ONLY = ("train_model", "evaluate_against_baseline", "deploy_to_staging", "canary_deploy_production")


def literal(text: str) -> str:
    """A string GitHub will not evaluate: `${{` is the only expression opener, and this expression
    yields it literally."""
    return text.replace("${{", "${{ '${{' }}")


def path_filter(path: str) -> str:
    return _GLOB.sub(r"\\\1", path)


def _env_value(value: EnvValue, previous: str | None) -> str:
    if isinstance(value, Lit):
        return literal(value.value)
    if isinstance(value, Output):
        assert previous is not None, "the first job has nothing to forward"
        return f"${{{{ needs.{previous}.outputs.{value.name} }}}}"
    if isinstance(value, Secret):
        return f"${{{{ secrets.{value.name} }}}}"
    if isinstance(value, Var):
        return f"${{{{ vars.{value.name} }}}}"
    return value.github


def _input(value: InputValue) -> str:
    # `env.NAME` reads the job's variable at the step: spec text stays data all the way into the
    # Action, which passes it to its scripts through `env:` again.
    parts = value if isinstance(value, tuple) else (value,)
    return "".join(f"${{{{ env.{p.name} }}}}" if isinstance(p, EnvRef) else literal(p) for p in parts)


def _action_step(step: Step, call: ActionCall, settings: CiSettings) -> dict[str, Any]:
    assert not step.exports, "the Action's steps export nothing into the job"
    out: dict[str, Any] = {"name": step.name, "uses": settings.action,
                           "with": {"command": call.command, **{k: _input(v) for k, v in call.inputs}}}
    if step.timeout_minutes is not None:
        out["timeout-minutes"] = step.timeout_minutes
    return out


def _step(step: Step, settings: CiSettings) -> dict[str, Any]:
    if step.action is not None:
        return _action_step(step, step.action, settings)
    script = step.script
    for name in step.exports:
        script += f"\nprintf '{name}=%s\\n' \"${name}\" >> \"$GITHUB_ENV\""
    out: dict[str, Any] = {"name": step.name, "run": script}
    if step.timeout_minutes is not None:
        out["timeout-minutes"] = step.timeout_minutes
    return out


def _outputs_step(names: list[str]) -> dict[str, Any]:
    lines = [f"  printf '{n}=%s\\n' \"${n.upper()}\"" for n in names]
    return {"name": "Job outputs", "id": "outputs", "run": "{\n" + "\n".join(lines) + "\n} >> \"$GITHUB_OUTPUT\""}


def _job(job: Job, plan: Plan, settings: CiSettings) -> dict[str, Any]:
    previous = job.needs[0] if job.needs else None
    out: dict[str, Any] = {"name": job.title}
    if job.needs:
        out["needs"] = list(job.needs)
    if job.scheduled:
        out["if"] = f"github.event_name == 'schedule' && github.ref == 'refs/heads/{settings.default_branch}'"
    elif job.stage in _MAIN_ONLY:
        out["if"] = (f"github.event_name != 'pull_request' && github.event_name != 'schedule' && "
                     f"github.ref == 'refs/heads/{settings.default_branch}'")
    else:
        out["if"] = "github.event_name != 'schedule'"
    out["runs-on"] = job.runs_on or settings.runs_on
    out["timeout-minutes"] = job.timeout_minutes
    if job.packages_write:
        out["permissions"] = {"contents": "read", "packages": "write"}
    if job.environment is not None:
        out["environment"] = {"name": job.environment}
    if job.deploys:
        out["concurrency"] = {"group": f"mlspec-{plan.name}-{job.lock or job.environment}",
                              "cancel-in-progress": False}
    names = [n for n in ALL_OUTPUTS if n.upper() in dict(job.env) or
             any(n.upper() in s.exports for s in job.steps)]
    if names:
        out["outputs"] = {n: f"${{{{ steps.outputs.outputs.{n} }}}}" for n in names}
    out["env"] = {name: _env_value(value, previous) for name, value in job.env}
    steps: list[dict[str, Any]] = [
        {"name": "Check out the spec repository", "uses": settings.pinned("actions/checkout"),
         "with": {"persist-credentials": False}},
    ]
    if not any(s.action is not None and s.action.command == "setup" for s in job.steps):
        # A job without mlspec (the edge package's promotion): the Action would set up Python for it.
        steps.append({"name": "Set up Python", "uses": settings.pinned("actions/setup-python"),
                      "with": {"python-version": settings.python_version}})
    steps += [_step(s, settings) for s in job.steps]
    if names:
        steps.append(_outputs_step(names))
    if job.artifact is not None:
        steps.append({
            "name": "Keep the gate verdict for the audit trail", "if": "always()",
            "uses": settings.pinned("actions/upload-artifact"),
            "with": {"name": f"{plan.name}-{job.artifact.rsplit('.', 1)[0]}", "path": job.artifact,
                     "if-no-files-found": "error", "retention-days": settings.verdict_retention_days},
        })
    out["steps"] = steps
    return out


def workflow(plan: Plan, settings: CiSettings) -> dict[str, Any]:
    spec = path_filter(plan.provenance.spec_path)
    jobs = build_jobs(plan, settings)
    triggers: dict[str, Any] = {
        "push": {"branches": [settings.default_branch], "paths": [spec]},
        "pull_request": {"paths": [spec]},
        "workflow_dispatch": {},
    }
    if any(job.scheduled for job in jobs):
        triggers["schedule"] = [{"cron": settings.rollout_schedule}]
    return {
        "name": f"mlspec {plan.name}",
        "on": triggers,
        "permissions": {"contents": "read"},
        # Runs of one model queue instead of cancelling each other: a deploy is never cut off midway.
        # The event is part of the group: a scheduled rollout check must not displace a queued push run.
        "concurrency": {"group": f"mlspec-{plan.name}-${{{{ github.ref }}}}-${{{{ github.event_name }}}}",
                        "cancel-in-progress": False},
        "env": {name: _env_value(value, None) for name, value in common_env(plan)},
        "jobs": {job.stage: _job(job, plan, settings) for job in jobs},
    }
