"""`mlspec comment`: one review comment per pull request, edited in place, on both forges."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from forge_stub import forge_stub

from compiler.cli import cli
from compiler.deploy.review_comment import MARKER, MAX_BODY, Forge, upsert, with_marker


def test_github_comment_created_then_updated_in_place() -> None:
    with forge_stub() as (api, state):
        state.add("LGTM")  # someone else's comment is never touched
        forge = Forge("github", api, "acme/specs", 7, "t0ken")
        assert upsert(forge, "first") == ("created", 1002)
        assert upsert(forge, "second") == ("updated", 1002)
        assert [c["body"] for c in state.comments] == ["LGTM", f"{MARKER}\nsecond"]
        assert ("PATCH", "/repos/acme/specs/issues/comments/1002") in state.requests
        assert set(state.auth) == {"Bearer t0ken"}


def test_finds_its_comment_past_the_first_page() -> None:
    with forge_stub() as (api, state):
        for n in range(150):
            state.add(f"comment {n}")
        ours = state.add(f"{MARKER}\nold")
        forge = Forge("github", api, "acme/specs", 7, "t")
        assert upsert(forge, "new") == ("updated", ours["id"])
        assert len(state.comments) == 151
        assert ("GET", "/repos/acme/specs/issues/7/comments") in state.requests


def test_gitlab_notes_created_then_updated() -> None:
    with forge_stub() as (api, state):
        forge = Forge("gitlab", f"{api}/api/v4", "group/sub/specs", 3, "glt")
        action, note = upsert(forge, "one")
        assert action == "created"
        assert upsert(forge, "two") == ("updated", note)
        assert state.comments[-1]["body"] == f"{MARKER}\ntwo"
        assert ("PUT", f"/api/v4/projects/group%2Fsub%2Fspecs/merge_requests/3/notes/{note}") in state.requests
        assert set(state.auth) == {"glt"}


def test_body_is_cut_to_the_forge_limit_with_a_note() -> None:
    text = with_marker("x" * (MAX_BODY * 2))
    assert len(text) == MAX_BODY
    assert text.startswith(MARKER)
    assert "mlspec diff" in text[-200:]


def test_cli_reads_the_github_actions_environment(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    body = tmp_path / "review.md"
    body.write_text("## mlspec\n")
    with forge_stub() as (api, state):
        env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": api, "GITHUB_REPOSITORY": "acme/specs",
               "GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "tok"}
        for _ in range(2):
            result = CliRunner().invoke(cli, ["comment", str(body)], env=env)
            assert result.exit_code == 0, result.output
        assert len(state.comments) == 1
        assert state.requests[0] == ("GET", "/repos/acme/specs/issues/42/comments")


def test_cli_outside_a_pull_request_is_one_line_exit_2(tmp_path: Path) -> None:
    body = tmp_path / "review.md"
    body.write_text("x")
    result = CliRunner().invoke(cli, ["comment", str(body), "--provider", "gitlab"],
                                env={"GITLAB_CI": "true", "CI_API_V4_URL": "", "MLSPEC_GITLAB_TOKEN": ""})
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "MLSPEC_GITLAB_TOKEN" in result.output
    assert "CI_MERGE_REQUEST_IID" in result.output


def test_forge_refusal_is_reported_not_raised(tmp_path: Path) -> None:
    body = tmp_path / "review.md"
    body.write_text("x")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 1}}))
    with forge_stub() as (api, _state):
        env = {"GITHUB_API_URL": f"{api}/nothing-here", "GITHUB_REPOSITORY": "a/b",
               "GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "t"}
        result = CliRunner().invoke(cli, ["comment", str(body)], env=env)
    assert result.exit_code == 2
    assert "HTTP 404" in result.output
