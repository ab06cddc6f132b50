from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_deploy_support import (
    git,
    make_deploy_repo,
    make_spec_repo,
    registry,
    set_traffic,
    tree_files,
)

import compiler.output.writer
from compiler.deploy import repo as git_ops
from compiler.deploy.commit import commit
from compiler.output.lock import LockBusy, repo_lock
from compiler.output.writer import MANIFEST
from compiler.render.plugins import Registry


@pytest.fixture
def repos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no global git identity: mlspec's default applies
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    spec_repo = make_spec_repo(tmp_path)
    deploy, remote = make_deploy_repo(tmp_path)
    return spec_repo, deploy, remote


def _commit(spec_repo: Path, deploy: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return commit(deploy, root=spec_repo, registry=registry(), **kwargs)  # type: ignore[arg-type]


def _log(deploy: Path) -> list[str]:
    return git(deploy, "log", "--format=%H").split()


def _consistent(deploy: Path, ref: str = "HEAD") -> None:
    """A commit's tree is exactly what its manifest lists, byte for byte."""
    manifest = json.loads(git(deploy, "show", f"{ref}:{MANIFEST}"))
    listed = set(git(deploy, "ls-tree", "-r", "--name-only", ref).split())
    assert listed == {*manifest["files"], MANIFEST}
    import hashlib
    import subprocess

    for path, info in manifest["files"].items():
        blob = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=deploy, capture_output=True, check=True).stdout
        assert hashlib.sha256(blob).hexdigest() == info["sha256"], path


def test_commit_trailers_only_managed_paths_and_push(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, remote = repos
    (deploy / "README.md").write_text("not mlspec's\n")
    (deploy / "staged.txt").write_text("staged by the user\n")
    git(deploy, "add", "staged.txt")
    outcome = _commit(spec_repo, deploy, push=True)
    assert outcome.status == "committed"
    files = set(git(deploy, "ls-tree", "-r", "--name-only", "HEAD").split())
    assert files == {MANIFEST, "cfg/models.yaml", "models/fraud-detector/cfg/configmap.yaml",
                     "models/fraud-detector/cfg/notes.txt", "models/other-model/cfg/configmap.yaml",
                     "models/other-model/cfg/notes.txt"}
    assert "staged.txt" in git(deploy, "diff", "--cached", "--name-only")  # the user's staging is untouched
    _consistent(deploy)
    trailers = git(deploy, "log", "-1", "--format=%(trailers:unfold)")
    assert trailers.count("Spec: specs/") == 2
    for key in ("Spec-Digest: sha256:", "Plan-Digest: sha256:", "Compiler-Version: 0.1.0", "Model-Version: 12",
                "Data-Hash: md5:3f2a9c0d5b7e4f1a8c6d2e9b0a1f3c4d"):
        assert key in trailers
    assert git(deploy, "log", "-1", "--format=%an <%ae>").strip() == "mlspec <mlspec@localhost>"
    assert git(remote, "rev-parse", "main").strip() == outcome.sha
    assert not (deploy / ".mlspec" / "journal.json").exists()
    assert not list((deploy / ".mlspec").glob("staging-*"))


def test_second_commit_without_change_makes_no_commit(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, _ = repos
    first = _commit(spec_repo, deploy)
    again = _commit(spec_repo, deploy)
    assert again.status == "unchanged"
    assert _log(deploy) == [first.sha]


def test_spec_change_commits_only_that_spec_on_a_branch(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, remote = repos
    _commit(spec_repo, deploy)
    set_traffic(spec_repo, 25, 30)
    outcome = _commit(spec_repo, deploy, branch="release", push=True, message="Canary 30%")
    assert outcome.status == "committed"
    assert git(deploy, "rev-parse", "--abbrev-ref", "HEAD").strip() == "release"
    body = git(deploy, "log", "-1", "--format=%B")
    assert body.startswith("Canary 30%")
    assert "Spec: specs/fraud-detector.yaml" in body
    assert "other-model" not in body
    assert "canary-30=30" in (deploy / "models/fraud-detector/cfg/configmap.yaml").read_text()
    assert git(remote, "rev-parse", "release").strip() == outcome.sha
    _consistent(deploy)


def test_deleted_spec_files_become_orphans_and_are_removed(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, _ = repos
    _commit(spec_repo, deploy)
    (spec_repo / "specs" / "other-model.yaml").unlink()
    outcome = _commit(spec_repo, deploy)
    assert outcome.status == "committed"
    assert "models/other-model/cfg/configmap.yaml" in outcome.change.removed
    assert not (deploy / "models" / "other-model").exists()
    assert "Removed-Spec: specs/other-model.yaml" in git(deploy, "log", "-1", "--format=%B")
    assert "other-model" not in git(deploy, "ls-tree", "-r", "--name-only", "HEAD")
    _consistent(deploy)


def test_hand_edit_refused_without_force_and_overwritten_with_it(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, _ = repos
    first = _commit(spec_repo, deploy)
    target = deploy / "models/fraud-detector/cfg/configmap.yaml"
    target.write_text(target.read_text().replace("modelVersion: '12'", "modelVersion: '99'"))
    edited = target.read_bytes()
    refused = _commit(spec_repo, deploy)
    assert refused.status == "refused"
    assert [d.path for d in refused.drift.modified] == ["models/fraud-detector/cfg/configmap.yaml"]
    assert target.read_bytes() == edited
    assert _log(deploy) == [first.sha]
    forced = _commit(spec_repo, deploy, force=True)
    assert forced.status == "unchanged"  # the working tree is back to what HEAD already has
    assert b"'99'" not in target.read_bytes()


def test_committed_hand_edit_is_refused(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, _ = repos
    _commit(spec_repo, deploy)
    notes = deploy / "models/other-model/cfg/notes.txt"
    rendered = notes.read_bytes()
    notes.write_text("edited\n")
    git(deploy, "commit", "-q", "-am", "hand edit")
    notes.write_bytes(rendered)  # even with the working tree put back, HEAD is wrong
    refused = _commit(spec_repo, deploy)
    assert refused.status == "refused"
    assert [(d.path, d.where) for d in refused.drift.modified] == [("models/other-model/cfg/notes.txt", "HEAD")]
    forced = _commit(spec_repo, deploy, force=True)
    assert forced.status == "committed"
    _consistent(deploy)


# A failed write (full disk, read-only directory) with real faults: tests/test_commit_faults.py.


def test_failed_git_commit_restores_the_tree(repos: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo, deploy, _ = repos
    first = _commit(spec_repo, deploy)
    before = tree_files(deploy)
    (spec_repo / "specs" / "other-model.yaml").unlink()
    set_traffic(spec_repo, 25, 30)

    def broken(*args: object, **kwargs: object) -> None:
        raise git_ops.GitError("git update-ref failed: simulated")

    monkeypatch.setattr(git_ops, "commit_paths", broken)
    with pytest.raises(git_ops.GitError):
        _commit(spec_repo, deploy)
    assert tree_files(deploy) == before
    assert _log(deploy) == [first.sha]


def test_crash_mid_swap_is_rolled_forward_by_the_next_run(repos: tuple[Path, Path, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed after the journal was written: the next commit finishes the swap and commits it."""
    spec_repo, deploy, _ = repos
    first = _commit(spec_repo, deploy)
    set_traffic(spec_repo, 25, 30)

    class Killed(BaseException):
        pass

    def killed(*args: object) -> None:
        raise Killed

    monkeypatch.setattr(compiler.output.writer, "_apply_journal", killed)
    monkeypatch.setattr(git_ops, "restore", lambda *a: None)  # a killed process runs no cleanup
    with pytest.raises(Killed):
        _commit(spec_repo, deploy)
    monkeypatch.undo()
    assert (deploy / ".mlspec" / "journal.json").is_file()
    assert _log(deploy) == [first.sha]
    outcome = _commit(spec_repo, deploy)
    assert outcome.status == "committed"
    assert not (deploy / ".mlspec" / "journal.json").exists()
    assert "canary-30=30" in (deploy / "models/fraud-detector/cfg/configmap.yaml").read_text()
    _consistent(deploy)


def test_lock_busy_fails_cleanly_and_stale_lock_is_taken_over(repos: tuple[Path, Path, Path]) -> None:
    spec_repo, deploy, _ = repos
    lock = deploy / ".git" / "mlspec.lock"
    with repo_lock(lock), pytest.raises(LockBusy, match="another mlspec run"):
        _commit(spec_repo, deploy, lock_timeout=0)
    assert not lock.exists()
    assert git(deploy, "rev-list", "--all") == ""  # no commit at all
    import socket

    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))  # a dead owner
    assert _commit(spec_repo, deploy, lock_timeout=0).status == "committed"
    assert not lock.exists()


def test_two_concurrent_commits_never_interleave(repos: tuple[Path, Path, Path], tmp_path: Path) -> None:
    spec_repo, deploy, _ = repos
    _commit(spec_repo, deploy)
    other_repo = make_spec_repo(tmp_path / "second", {"fraud-detector": (spec_repo / "specs/fraud-detector.yaml")
                                                      .read_text().replace("{traffic: 25,", "{traffic: 40,")})
    set_traffic(spec_repo, 25, 30)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(root: Path) -> None:
        try:
            barrier.wait()
            _commit(root, deploy, lock_timeout=30, force=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(r,)) for r in (spec_repo, other_repo)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    history = _log(deploy)
    assert len(history) == 3
    for sha in history:
        _consistent(deploy, sha)
    assert not (deploy / ".git" / "mlspec.lock").exists()


def test_cli_commit_exit_codes(repos: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch,
                               use_targets: Callable[[Registry], Registry]) -> None:
    from compiler.deploy.cli import commit_command

    spec_repo, deploy, _ = repos
    use_targets(registry())
    monkeypatch.chdir(spec_repo)
    runner = CliRunner()
    ok = runner.invoke(commit_command, ["--repo", str(deploy)])
    assert ok.exit_code == 0, ok.output
    assert "committed" in ok.output
    (deploy / "models/fraud-detector/cfg/notes.txt").write_text("hand\n")
    refused = runner.invoke(commit_command, ["--repo", str(deploy)])
    assert refused.exit_code == 1
    assert "refusing" in refused.output
    assert "modified  models/fraud-detector/cfg/notes.txt" in refused.output
    not_git = runner.invoke(commit_command, ["--repo", str(spec_repo / "specs")])
    assert not_git.exit_code == 2
    (spec_repo / "specs" / "broken.yaml").write_text("apiVersion: mlspec/v1\nkind: Model\n")
    invalid = runner.invoke(commit_command, ["--repo", str(deploy), "--force"])
    assert invalid.exit_code == 1
    assert "nothing written" in invalid.output
    assert os.path.exists(deploy / "models/fraud-detector/cfg/notes.txt")
