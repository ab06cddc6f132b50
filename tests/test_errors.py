"""One error hierarchy, one mapping to exit codes (compiler/errors.py), and the lazy commands' failures."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from compiler.cli import LAZY_COMMANDS, LazyGroup, main
from compiler.errors import EnvironmentFault, InternalError, MlspecError, UsageError, exit_code


def _group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lazy: dict[str, str]) -> click.Group:
    # A command module that ships with the install but is broken: its own import fails.
    (tmp_path / "mlspec_broken_cmd.py").write_text(
        "import mlspec_dependency_that_is_not_installed  # noqa\nimport click\n"
        "@click.command('broken')\ndef broken():\n    pass\n")
    (tmp_path / "mlspec_not_a_cmd.py").write_text("broken = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    @click.group(cls=LazyGroup, lazy_commands=lazy)
    def group() -> None:
        """test group"""

    return group


def _run(group: click.Group, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv, group=group)
    code = info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_an_import_error_in_a_command_module_is_internal_not_no_such_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    group = _group(tmp_path, monkeypatch, {"broken": "mlspec_broken_cmd:broken"})
    code, err = _run(group, ["broken"], capsys)
    assert code == 3, err
    assert "No such command" not in err
    assert "internal error (InternalError)" in err
    assert "mlspec_dependency_that_is_not_installed" in err  # the cause is in the report


def test_a_command_module_without_its_command_is_internal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    group = _group(tmp_path, monkeypatch, {"missing": "mlspec_broken_cmd:nothing",
                                          "wrong": "mlspec_not_a_cmd:broken"})
    assert _run(group, ["wrong"], capsys)[0] == 3


def test_an_unknown_command_is_still_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    group = _group(tmp_path, monkeypatch, {"broken": "mlspec_broken_cmd:broken"})
    code, err = _run(group, ["nosuchverb"], capsys)
    assert code == 2
    assert "No such command" in err


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_shipped_lazy_command_loads(name: str) -> None:
    from compiler.cli import cli

    assert isinstance(cli.get_command(click.Context(cli), name), click.Command)


@pytest.mark.parametrize(("exc", "code"), [(UsageError("u"), 2), (EnvironmentFault("e"), 2),
                                           (InternalError("i"), 3), (RuntimeError("r"), 3), (MlspecError("m"), 3)])
def test_exceptions_map_to_exit_codes_in_one_place(exc: Exception, code: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(exc) == code

    @click.group()
    def group() -> None:
        """test group"""

    @group.command("fail")
    def fail() -> None:
        raise exc

    got, err = _run(group, ["fail"], capsys)
    assert got == code
    assert ("internal error" in err) is (code == 3)
    assert "Traceback" not in err or code == 3


def test_the_commands_known_failures_are_in_the_hierarchy() -> None:
    """What the commands used to list exception by exception now derives from one base."""
    from compiler.deploy.commit import StateChanged
    from compiler.deploy.repo import GitError
    from compiler.ledger.audit import AuditError
    from compiler.ledger.state import StateError
    from compiler.live.prometheus import PrometheusError
    from compiler.output.lock import LockBusy
    from compiler.rollout.engine import RolloutError

    environment = [LockBusy, GitError, StateChanged, PrometheusError]
    usage = [RolloutError, StateError, AuditError]
    assert all(issubclass(e, EnvironmentFault) for e in environment)
    assert all(issubclass(e, UsageError) for e in usage)
    assert all(exit_code(e("x")) == 2 for e in environment + usage)
    assert issubclass(StateError, ValueError)  # callers that catch ValueError keep working


def test_render_reports_a_known_failure_by_its_class_exit_code(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`render` catches the base class: an unreadable rollout state (UsageError) is exit 2, one line."""
    out = tmp_path / "out"
    (out / ".mlspec" / "rollout").mkdir(parents=True)
    (out / ".mlspec" / "rollout" / "fraud-detector.json").write_text("{not json")
    spec = Path(__file__).resolve().parent.parent / "specs" / "fraud-detector.yaml"
    with pytest.raises(SystemExit) as info:
        main(["render", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith("mlspec: ")
    assert "Traceback" not in err
