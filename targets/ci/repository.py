"""The repository settings artifact: environments and their required reviewers.

Approvals cannot live in workflow YAML (GitHub rejects `environment.reviewers`; GitLab keeps approval
rules on protected environments), so this file says what to configure, for a human or an API script.

What the file needs of each model's jobs is its share (`RepositoryShare`), computed where the spec renders
(CiTarget.project_part) and cached with it: building every model's jobs again was most of a render after
one spec changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from compiler.planning.plan import Plan
from compiler.render.plugins import every_part
from targets.ci.settings import CiSettings


def approvers(plan: Plan) -> list[str]:
    return sorted({o.github for o in plan.owners if "approver" in o.roles and o.github})


def _reviewer(handle: str) -> dict[str, str]:
    return {"handle": handle, "type": "Team" if "/" in handle else "User"}


class RepositoryShare(NamedTuple):
    """What the repository settings read of one model's jobs."""

    scheduled: bool  # a job runs in scheduled pipelines (the rollout's advance)
    environments: tuple[tuple[str, bool], ...]  # (CI environment, needs approval) of each job that has one
    approvers: tuple[str, ...]
    name: str  # the model's: the files list models by name
    spec_path: str  # the review workflow watches it


def repository_share(plan: Plan, settings: CiSettings) -> RepositoryShare:
    from targets.ci.jobs import build_jobs  # render only, like ROLLOUT_JOB below: a lint imports `approvers`

    jobs = build_jobs(plan, settings)
    return RepositoryShare(any(job.scheduled for job in jobs),
                           tuple((job.environment, job.approval) for job in jobs if job.environment is not None),
                           tuple(approvers(plan)), plan.name, plan.provenance.spec_path)


def repository_settings(plans: Sequence[Plan], settings: CiSettings,
                        shares: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings file; `shares` (spec path -> RepositoryShare) spares building the models' jobs again."""
    from targets.ci.jobs import ROLLOUT_JOB

    envs: dict[str, dict[str, Any]] = {}
    rollouts: list[str] = []
    # Order-free: every list below is sorted, so the shares' order (every_part's) does not matter.
    for _, share in every_part(plans, shares, RepositoryShare, lambda p: repository_share(p, settings)):
        if share.scheduled:
            rollouts.append(share.name)
        for environment, approval in share.environments:
            entry = envs.setdefault(environment, {
                "name": environment, "models": [], "approval_required": False, "reviewers": set()})
            entry["models"].append(share.name)
            if approval:
                entry["approval_required"] = True
                entry["reviewers"].update(share.approvers)
    environments = []
    for name in sorted(envs):
        entry = envs[name]
        reviewers = sorted(entry["reviewers"])
        environments.append({
            "name": name,
            "models": sorted(entry["models"]),
            "approval_required": entry["approval_required"],
            "required_reviewers": [_reviewer(h) for h in reviewers],
            "prevent_self_review": entry["approval_required"],
            "deployment_branches": [settings.default_branch],
        })
    secrets = sorted({settings.deploy_token_secret,
                      *(s for s in (settings.registry_username_secret, settings.registry_password_secret) if s)})
    return {
        "apiVersion": "mlspec/v1",
        "kind": "CiRepositorySettings",
        "provider": settings.provider,
        "environments": environments,
        "secrets": secrets,
        "variables": sorted({settings.kfp_endpoint_variable, settings.deploy_repo_variable,
                             *([settings.prometheus_url_variable] if rollouts else [])}),
        "schedules": [{"models": sorted(rollouts), "cron": settings.rollout_schedule, "job": ROLLOUT_JOB,
                       "branch": settings.default_branch}] if rollouts else [],
        "notes": [
            "GitHub: Settings > Environments (or PUT /repos/{owner}/{repo}/environments/{name}); reviewers "
            "are set by id there, at most six per environment.",
            "GitLab: Settings > CI/CD > Protected environments, with an approval rule per reviewer; "
            "Build > Pipeline schedules: one schedule with the cron above runs advance_rollout.",
            "GitHub runs advance_rollout from the workflow's own `schedule:` trigger.",
        ],
    }
