"""One review comment per pull request, updated in place on every push.

The comment carries a hidden marker; the first comment holding it is edited, otherwise one is created.
GitHub (issue comments of the pull request) and GitLab (merge request notes) are both plain REST, so
this uses the standard library only and takes the HTTP opener as a collaborator (tests pass their own).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import click

from compiler.errors import EnvironmentFault, fail

MARKER = "<!-- mlspec:review -->"
# GitHub refuses comment bodies over 65,536 characters; GitLab's note limit is larger (1,000,000).
MAX_BODY = 65_536
PAGE = 100

Provider = Literal["github", "gitlab"]
Opener = Callable[[urllib.request.Request], Any]


class CommentError(EnvironmentFault):
    """The forge refused a request or could not be reached; the message names the request (exit 2)."""


@dataclass(frozen=True, slots=True)
class Forge:
    provider: Provider
    api_url: str  # https://api.github.com, or https://gitlab.example.com/api/v4
    repository: str  # owner/name on GitHub, the project id or full path on GitLab
    number: int  # pull request number, or merge request iid
    token: str

    def _headers(self) -> dict[str, str]:
        if self.provider == "github":
            return {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28"}
        return {"PRIVATE-TOKEN": self.token}

    def _base(self) -> str:
        api = self.api_url.rstrip("/")
        if self.provider == "github":
            return f"{api}/repos/{self.repository}/issues"
        project = urllib.parse.quote(self.repository, safe="")
        return f"{api}/projects/{project}/merge_requests/{self.number}/notes"

    def list_url(self, page: int) -> str:
        if self.provider == "github":
            return f"{self._base()}/{self.number}/comments?per_page={PAGE}&page={page}"
        return f"{self._base()}?per_page={PAGE}&page={page}&sort=asc"

    def create_url(self) -> str:
        return f"{self._base()}/{self.number}/comments" if self.provider == "github" else self._base()

    def edit(self, comment_id: int) -> tuple[str, str]:
        if self.provider == "github":
            return "PATCH", f"{self._base()}/comments/{comment_id}"
        return "PUT", f"{self._base()}/{comment_id}"


def with_marker(body: str) -> str:
    """The body as posted: the marker first, cut to the forge's limit with a visible note."""
    text = f"{MARKER}\n{body}"
    if len(text) <= MAX_BODY:
        return text
    note = "\n\n_(cut to fit the comment size limit; run `mlspec diff` locally for the rest)_\n"
    return text[: MAX_BODY - len(note)] + note


def _call(opener: Opener, forge: Forge, method: str, url: str, payload: dict[str, str] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    headers = forge._headers()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener(request) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise CommentError(f"{method} {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise CommentError(f"{method} {url}: {exc}") from exc
    except ValueError as exc:
        raise CommentError(f"{method} {url}: the answer is not JSON") from exc


def find_existing(forge: Forge, opener: Opener) -> int | None:
    page = 1
    while True:
        comments = _call(opener, forge, "GET", forge.list_url(page))
        if not isinstance(comments, list):
            raise CommentError(f"GET {forge.list_url(page)}: expected a list of comments")
        for comment in comments:
            if isinstance(comment, dict) and MARKER in str(comment.get("body", "")):
                return int(comment["id"])
        if len(comments) < PAGE:
            return None
        page += 1


def upsert(forge: Forge, body: str, opener: Opener = urllib.request.urlopen) -> tuple[str, int]:
    """Create or update the review comment; returns ("created"|"updated", comment id)."""
    text = with_marker(body)
    existing = find_existing(forge, opener)
    if existing is None:
        answer = _call(opener, forge, "POST", forge.create_url(), {"body": text})
        return "created", int(answer["id"])
    method, url = forge.edit(existing)
    _call(opener, forge, method, url, {"body": text})
    return "updated", existing


def forge_from_environment(provider: str | None, env: dict[str, str]) -> Forge:
    """The forge as its CI runner describes it: GitHub Actions' and GitLab CI's predefined variables."""
    if provider is None:
        provider = "gitlab" if env.get("GITLAB_CI") else "github"
    if provider == "github":
        number = _github_pull_request(env)
        token = env.get("GITHUB_TOKEN", "")
        api, repository = env.get("GITHUB_API_URL", "https://api.github.com"), env.get("GITHUB_REPOSITORY", "")
        missing = [n for n, v in (("GITHUB_TOKEN", token), ("GITHUB_REPOSITORY", repository)) if not v]
    else:
        token = env.get("MLSPEC_GITLAB_TOKEN", "")
        api, repository = env.get("CI_API_V4_URL", ""), env.get("CI_PROJECT_ID", "")
        iid = env.get("CI_MERGE_REQUEST_IID", "")
        missing = [n for n, v in (("MLSPEC_GITLAB_TOKEN", token), ("CI_API_V4_URL", api),
                                  ("CI_PROJECT_ID", repository), ("CI_MERGE_REQUEST_IID", iid)) if not v]
        number = int(iid) if iid.isdigit() else 0
    if missing:
        raise CommentError(f"{provider}: set {', '.join(missing)} (the job is not a {provider} pull request job?)")
    return Forge("gitlab" if provider == "gitlab" else "github", api, repository, number, token)


def _github_pull_request(env: dict[str, str]) -> int:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise CommentError("github: GITHUB_EVENT_PATH is not set (not running in GitHub Actions?)")
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
        return int(event["pull_request"]["number"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommentError(f"github: {path} is not a pull_request event ({exc})") from exc


@click.command("comment")
@click.argument("body_file", type=click.File("r", encoding="utf-8"))
@click.option("--provider", type=click.Choice(["github", "gitlab"]), default=None,
              help="Default: gitlab inside GitLab CI, else github.")
def comment_command(body_file: Any, provider: str | None) -> None:
    """Create or update mlspec's review comment on the current pull/merge request.

    Reads the forge from the CI runner's variables (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH;
    or MLSPEC_GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID).
    """
    try:
        forge = forge_from_environment(provider, dict(os.environ))
        action, number = upsert(forge, body_file.read())
    except CommentError as exc:
        fail(exc)
    click.echo(f"{action} review comment {number}", err=True)
