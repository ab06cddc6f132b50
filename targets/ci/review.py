"""The spec repository's one review workflow: lint annotations and the review comment on pull requests.

It calls the mlspec Action in `review` mode without `commit`: on merge, the per-model workflows deploy
(staging first, production after approval), so a second writer that commits every merge straight to
the deployment repository would release production without its approval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from compiler.planning.plan import Plan
from compiler.render.plugins import every_part
from targets.ci.github import literal, path_filter
from targets.ci.repository import RepositoryShare, repository_share
from targets.ci.settings import CiSettings

PROJECT_FILE = "mlspec.yaml"


def review_workflow(plans: Sequence[Plan], settings: CiSettings,
                    parts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`parts` (spec path -> RepositoryShare, CiTarget.project_part) spares the plans: it names them."""
    shares = sorted((s for _, s in every_part(plans, parts, RepositoryShare, lambda p: repository_share(p, settings))),
                    key=lambda s: s.name)  # the plans' order (the core sorts them by name)
    paths = [s.spec_path for s in shares]
    folders = sorted({str(PurePosixPath(p).parent) for p in paths})
    return {
        "name": "mlspec review",
        "on": {"pull_request": {"paths": [*(path_filter(p) for p in paths), PROJECT_FILE]}},
        "permissions": {"contents": "read"},
        # A newer push to the pull request supersedes the running review: it only comments.
        "concurrency": {"group": "mlspec-review-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {"review": {
            "name": "Lint annotations and the review comment",
            "runs-on": settings.runs_on,
            "timeout-minutes": settings.timeout("lint_and_test"),
            "permissions": {"contents": "read", "pull-requests": "write"},
            "steps": [
                # Credentials stay (read-only, `contents: read`): the review fetches the base branch.
                {"name": "Check out the spec repository", "uses": settings.pinned("actions/checkout")},
                {"name": "Lint, and comment what this pull request changes", "uses": settings.action,
                 "with": {"command": "review", "specs": literal(" ".join(folders)), "workflows": "true",
                          "python-version": settings.python_version}},
            ],
        }},
    }
