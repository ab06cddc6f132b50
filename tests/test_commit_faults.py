"""Every verb that writes, against a machine that refuses: a read-only directory, a full disk, a
cross-device tree, an output path that is a file. Each ends in one line naming the path and the errno,
exit 2, with every path exactly as it was (or, cross-device, simply works). Faults are real (see faults.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from faults import fill, immutable, tmpfs, tree
from test_deploy_support import git

from compiler.cli import main
from golden import REPO

SPEC = (REPO / "specs" / "fraud-detector.yaml").read_text()
MODEL_DIR = Path("models/fraud-detector")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "fraud-detector.yaml").write_text(SPEC)
    monkeypatch.chdir(root)
    return root


def mlspec(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    code = exited.value.code
    return code if isinstance(code, int) else 1, [line for line in err.splitlines() if line.strip()]


def deploy_repo(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    deploy = project.parent / "deploy"
    git(project.parent, "init", "-q", "-b", "main", str(deploy))
    code, err = mlspec(capsys, "commit", "--repo", str(deploy))
    assert code == 0, err
    return deploy


def change_spec(project: Path, old: str = "{traffic: 25,", new: str = "{traffic: 30,") -> None:
    path = project / "specs" / "fraud-detector.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@contextmanager
def frozen(directory: Path) -> Iterator[None]:
    """Every directory under `directory` immutable: no file below it can be created, replaced or removed."""
    with ExitStack() as stack:
        for dirpath, _, _ in os.walk(directory):
            stack.enter_context(immutable(Path(dirpath)))
        yield


@contextmanager
def moved_to_tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """`directory` with its files, now on its own (cross-device) tmpfs of `size`."""
    saved = tree(directory)
    shutil.rmtree(directory)
    with tmpfs(directory, size):
        for rel, data in saved.items():
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_bytes(data)
        yield directory


def one_error(err: list[str], *parts: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("mlspec: error: cannot "), err
    for part in parts:
        assert part in err[0], err


def test_commit_into_read_only_directories_changes_nothing_and_reverting_recovers(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deploy = deploy_repo(project, capsys)
    head = git(deploy, "rev-parse", "HEAD")
    change_spec(project)
    before = tree(deploy)
    with frozen(deploy / MODEL_DIR):
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 2
        one_error(err, str(MODEL_DIR), "Operation not permitted (EPERM)")
        assert tree(deploy) == before
        assert git(deploy, "rev-parse", "HEAD") == head
        assert git(deploy, "status", "--porcelain") == ""
        # Reverting the spec is enough: nothing is "hand-edited", nothing exits 3.
        change_spec(project, "{traffic: 30,", "{traffic: 25,")
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 0, err
        assert err[-1].endswith("up to date, nothing to commit")
    change_spec(project)
    code, err = mlspec(capsys, "commit", "--repo", str(deploy))
    assert code == 0, err
    assert err[-1].startswith("committed ")
    assert len(git(deploy, "log", "--format=%H").split()) == 2
    assert git(deploy, "status", "--porcelain") == ""


def test_commit_on_a_full_disk_changes_nothing_and_works_once_there_is_room(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deploy = deploy_repo(project, capsys)
    head = git(deploy, "rev-parse", "HEAD")
    change_spec(project)
    with (deploy / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".filler\n")
    with moved_to_tmpfs(deploy / MODEL_DIR, "1m") as models:
        filler = fill(models)
        before = tree(deploy)
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 2
        one_error(err, str(MODEL_DIR), "No space left on device (ENOSPC)")
        assert tree(deploy) == before
        assert git(deploy, "rev-parse", "HEAD") == head
        assert git(deploy, "status", "--porcelain") == ""
        filler.unlink()
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 0, err
        assert git(deploy, "status", "--porcelain") == ""


def test_commit_into_a_cross_device_directory_works(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deploy = deploy_repo(project, capsys)
    change_spec(project)
    with moved_to_tmpfs(deploy / MODEL_DIR, "4m"):
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 0, err
        assert err[-1].startswith("committed ")
        code, err = mlspec(capsys, "commit", "--repo", str(deploy))
        assert code == 0, err
        assert err[-1].endswith("up to date, nothing to commit")
        assert git(deploy, "status", "--porcelain") == ""


def test_render_into_a_full_disk_leaves_it_empty(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tmpfs(project.parent / "out", "64k") as out:
        code, err = mlspec(capsys, "render", "--out", str(out))
        assert code == 2
        one_error(err, "No space left on device (ENOSPC)")
        assert tree(out) == {}


def test_render_out_is_a_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project.parent / "out"
    out.write_text("mine\n")
    code, err = mlspec(capsys, "render", "--out", str(out))
    assert code == 2
    one_error(err, "out: File exists (EEXIST)")
    assert out.read_text() == "mine\n"


def test_render_into_a_read_only_directory(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project.parent / "out"
    out.mkdir()
    with immutable(out):
        code, err = mlspec(capsys, "render", "--out", str(out))
    assert code == 2
    one_error(err, "out/.mlspec", "(EPERM)")
    assert tree(out) == {}


def test_render_over_a_read_only_subdirectory_changes_nothing(project: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = project.parent / "out"
    code, err = mlspec(capsys, "render", "--out", str(out))
    assert code == 0, err
    change_spec(project)
    before = tree(out)
    with frozen(out / MODEL_DIR):
        code, err = mlspec(capsys, "render", "--out", str(out))
        assert code == 2
        one_error(err, str(MODEL_DIR), "(EPERM)")
        assert tree(out) == before
    code, err = mlspec(capsys, "render", "--out", str(out))
    assert code == 0, err


def test_init_into_a_read_only_or_full_directory(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with immutable(project / "specs"):
        code, err = mlspec(capsys, "init", "new-model")
    assert code == 2
    one_error(err, "specs/new-model.yaml", "(EPERM)")
    with tmpfs(project / "small", "4k") as small:
        fill(small, 0)
        code, err = mlspec(capsys, "init", "new-model", "--dir", "small")
        assert code == 2
        one_error(err, "small/new-model.yaml", "(ENOSPC)")
        assert set(tree(small)) == {".filler"}


def test_schema_output_on_a_full_disk_keeps_the_old_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tmpfs(project / "small", "4k") as small:
        (small / "schema.json").write_text("old\n")
        fill(small, 0)
        code, err = mlspec(capsys, "schema", "-o", "small/schema.json")
        assert code == 2
        one_error(err, "small/schema.json", "No space left on device (ENOSPC)")
        assert (small / "schema.json").read_text() == "old\n"
        assert set(tree(small)) == {".filler", "schema.json"}


def test_rollout_state_write_into_a_read_only_directory(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deploy = deploy_repo(project, capsys)
    (deploy / ".mlspec" / "rollout").mkdir(exist_ok=True)
    head = git(deploy, "rev-parse", "HEAD")
    before = tree(deploy)
    with immutable(deploy / ".mlspec" / "rollout"):
        code, err = mlspec(capsys, "rollout", "rollback", "fraud-detector", "--repo", str(deploy),
                           "--specs", "specs")
    assert code == 2
    one_error(err, ".mlspec/rollout/fraud-detector.json", "(EPERM)")
    assert tree(deploy) == before
    assert git(deploy, "rev-parse", "HEAD") == head
