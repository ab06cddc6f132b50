"""The command line: exit codes, output formats, and the small verbs (init, schema, targets, --version)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tools import unavailable

from compiler import __version__
from compiler.cli import cli, main
from compiler.render.plugins import Registry
from golden import REPO, SPECS

CORPUS = REPO / "tests" / "invalid"
BUILT_IN = ["ci", "gitops", "governance", "kserve", "kubeflow", "prometheus"]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(REPO)
    return CliRunner()


def test_lint_of_the_examples_is_clean_with_every_installed_target(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint"])
    assert result.exit_code == 0, result.stderr
    assert not re.search(r": error [A-Z]+\d+ ", result.stderr), result.stderr


def test_lint_findings_exit_1_and_report_every_file(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "tests/invalid/bad-cron.yaml", "tests/invalid/latest-tag.yaml"])
    assert result.exit_code == 1
    assert "tests/invalid/bad-cron.yaml:22:13: error MLS206 pipeline.schedule:" in result.stderr
    assert "tests/invalid/latest-tag.yaml:21:10: error MLS221 pipeline.image:" in result.stderr
    assert result.stderr.rstrip().endswith("2 error(s), 0 warning(s)")


def test_warnings_alone_exit_0(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "tests/invalid/warnings-only.yaml"])
    assert result.exit_code == 0
    assert "warning MLS301" in result.stderr


@pytest.mark.parametrize("args", [["lint", "--format", "xml"], ["lint", "--bogus"], ["render"], ["nosuchverb"],
                                  ["init", "Bad_Name"], ["init", "ok", "--team", "../x"]])
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, args).exit_code == 2


def test_an_internal_error_exits_3_with_a_message(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("compiler.output.lint_cache.lint", explode)
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", str(SPECS)])
    assert exit_info.value.code == 3
    assert "internal error (RuntimeError)" in capsys.readouterr().err


def test_json_format(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "--format", "json", "tests/invalid/unknown-after.yaml"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{
        "file": "tests/invalid/unknown-after.yaml", "line": 24, "col": 58, "severity": "error", "code": "MLS202",
        "path": "pipeline.steps[1].after[0]", "message": "step 'prepair' does not exist",
        "hint": "did you mean 'prepare'?"}]


def test_json_format_of_a_clean_run_is_an_empty_list(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "--format", "json", "specs/churn-scorer.yaml"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_github_format(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "--format", "github", "tests/invalid/unknown-after.yaml",
                                 "tests/invalid/warnings-only.yaml"])
    lines = result.stdout.splitlines()
    assert lines[0] == ("::error file=tests/invalid/unknown-after.yaml,line=24,col=58,title=MLS202::"
                        "pipeline.steps[1].after[0]: step 'prepair' does not exist%0Ahint: did you mean 'prepare'?")
    assert all(re.match(r"::(error|warning) file=[^,]+,line=\d+,col=\d+,title=[A-Z]+\d{3}::", line) for line in lines)
    assert {"MLS301", "MLS302", "MLS303"} <= set(re.findall(r"::warning .*title=(MLS\d+)::", result.stdout))


def test_lint_defaults_to_the_project_specs_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     use_targets: Callable[[Registry], Registry]) -> None:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    (tmp_path / "specs").mkdir()
    shutil.copy(CORPUS / "bad-md5.yaml", tmp_path / "specs" / "bad-md5.yaml")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found from a subdirectory too
    use_targets(Registry())
    result = CliRunner().invoke(cli, ["lint"])
    assert result.exit_code == 1
    assert result.stderr.startswith("../specs/bad-md5.yaml:14:35: error MLS222 data.dvc.md5:")


def test_init_writes_a_starter_that_lints_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    created = runner.invoke(cli, ["init", "credit-limit", "--team", "lending-ml"])
    assert created.exit_code == 0, created.stderr
    path = tmp_path / "specs" / "credit-limit.yaml"
    text = path.read_text()
    assert "name: credit-limit" in text
    assert "team: lending-ml" in text
    assert text.count("#") > 5
    linted = runner.invoke(cli, ["lint", str(path)])
    assert linted.exit_code == 0, linted.stderr
    assert not re.search(r": error [A-Z]+\d+ ", linted.stderr), linted.stderr
    assert runner.invoke(cli, ["init", "credit-limit", "--team", "lending-ml"]).exit_code == 2  # never overwrites
    assert path.read_text() == text


def test_schema_prints_the_committed_schema(runner: CliRunner, tmp_path: Path) -> None:
    committed = (REPO / "docs" / "mlspec-v1.schema.json").read_text()
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == committed, "docs/mlspec-v1.schema.json is stale: run `make schema`"
    assert runner.invoke(cli, ["schema", "-o", str(tmp_path / "s.json")]).exit_code == 0
    assert (tmp_path / "s.json").read_text() == committed
    project = runner.invoke(cli, ["schema", "--project"])
    assert project.exit_code == 0
    assert project.stdout == (REPO / "docs" / "mlspec-project-v1.schema.json").read_text(), "run `make schema`"


def test_targets_lists_the_built_ins(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["targets"])
    assert result.exit_code == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == BUILT_IN


def test_python_dash_m_compiler_version() -> None:
    done = subprocess.run([sys.executable, "-m", "compiler", "--version"], capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert done.returncode == 0
    assert done.stdout.strip() == f"mlspec, version {__version__}"


def test_the_console_script_runs_and_exits_1_on_findings() -> None:
    script = Path(sys.executable).parent / "mlspec"
    if not script.exists():
        unavailable("the mlspec console script is not installed next to this interpreter (pip install -e .)")
    done = subprocess.run([str(script), "lint", "tests/invalid/bad-commit.yaml"], capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert done.returncode == 1
    assert done.stderr.startswith("tests/invalid/bad-commit.yaml:19:54: error MLS222")
    assert "Traceback" not in done.stderr
