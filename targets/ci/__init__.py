"""The ci target: a GitHub Actions workflow and/or GitLab CI pipeline per model, six blocking stages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from compiler.diagnostics import Diagnostic, Severity
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Target
from targets.ci.repository import approvers, repository_settings, repository_share
from targets.ci.settings import CiSettings

# Model versions travel between jobs as outputs (`name=value` lines): a newline or `=`-free
# conservative alphabet keeps a version from forging another output.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")


class CiTarget(Target):
    name = "ci"
    description = "GitHub Actions workflow / GitLab CI pipeline with the six blocking stages"
    codes = {
        "CI001": "model version has characters a CI job output cannot carry safely",
        "CI002": "production needs approval but no approver has a GitHub handle to require as reviewer",
    }
    settings_model = CiSettings

    def check(self, plan: Plan, settings: Any) -> Iterable[Diagnostic]:
        if not _VERSION.fullmatch(plan.model.version):
            yield Diagnostic("CI001", f"model version {plan.model.version!r} cannot be passed between CI jobs",
                             path=("model", "version"),
                             hint="use letters, digits and . _ : / @ + - (at most 128 characters)")
        needs_approval = (plan.rollout is not None and plan.rollout.manual_approval) or any(
            e.approval_required for e in plan.serving.environments)
        if needs_approval and not approvers(plan):
            yield Diagnostic("CI002", "production requires approval, but no owner with role approver has a "
                             "`github` handle, so the environment's required reviewers stay empty",
                             severity=Severity.WARNING, path=("owners",),
                             hint="add github: '@org/team' to an approver")

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        assert isinstance(settings, CiSettings)
        from targets.ci.github import workflow  # render only, like gitlab and review: lint starts faster
        from targets.ci.gitlab import pipeline

        base = f"models/{plan.name}/ci"
        if settings.provider in ("github", "both"):
            yield OutputFile(f"{base}/github-workflow.yaml", "yaml", [workflow(plan, settings)])
        if settings.provider in ("gitlab", "both"):
            yield OutputFile(f"{base}/gitlab-ci.yaml", "yaml", [pipeline(plan, settings)])

    def project_part(self, plan: Plan, settings: Any, rendered: Mapping[str, bytes]) -> Any:
        assert isinstance(settings, CiSettings)
        return repository_share(plan, settings)

    def render_project(self, plans: Sequence[Plan], settings: Any,
                       parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile]:
        assert isinstance(settings, CiSettings)
        if plans:
            yield OutputFile("ci/repository-settings.yaml", "yaml", [repository_settings(plans, settings, parts)])
        if plans and settings.provider in ("github", "both"):
            from targets.ci.review import review_workflow

            yield OutputFile("ci/github-review-workflow.yaml", "yaml", [review_workflow(plans, settings, parts)])
