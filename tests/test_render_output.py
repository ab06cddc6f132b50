"""What `mlspec render` prints on long runs: a summary by default, the file list with -v, and a progress
bar only for a person at a terminal (never on a pipe or in CI logs)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tools import REPO_ROOT

from compiler.cli import cli

LABEL = "rendering specs"


def _project(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "specs", tmp_path / "specs")
    return tmp_path


def test_summary_by_default_and_the_file_list_with_verbose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    runner = CliRunner()
    monkeypatch.chdir(project)
    quiet = runner.invoke(cli, ["render", "--out", "out"])
    assert quiet.exit_code == 0, quiet.output
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("  added ")]
    summary = quiet.stderr.splitlines()[-1]
    assert summary.startswith("5 spec(s): wrote ")
    assert " added, 0 changed, 0 removed, 0 unchanged in out" in summary
    shutil.rmtree(project / "out")
    verbose = runner.invoke(cli, ["render", "--out", "out", "-v"])
    listed = [line for line in verbose.stderr.splitlines() if line.startswith("  added    ")]
    added = int(summary.split("wrote ")[1].split(" added")[0])
    assert len(listed) == added
    assert LABEL not in verbose.stderr  # CliRunner's stderr is not a terminal


def _render_on(tmp_path: Path, terminal: bool, env: dict[str, str]) -> str:
    """Run the real command line with standard error on a pseudo-terminal (or a pipe); its output."""
    command = [sys.executable, "-m", "compiler", "render", "--out", "out"]
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "100", **env}
    if not terminal:
        done = subprocess.run(command, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, cwd=tmp_path, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal_outside_ci(tmp_path: Path) -> None:
    project = _project(tmp_path)
    on_terminal = _render_on(project, terminal=True, env={"CI": ""})
    assert LABEL in on_terminal
    assert "5/5" in on_terminal
    shutil.rmtree(project / "out")
    on_pipe = _render_on(project, terminal=False, env={"CI": ""})
    assert LABEL not in on_pipe
    shutil.rmtree(project / "out")
    in_ci = _render_on(project, terminal=True, env={"CI": "true"})
    assert LABEL not in in_ci
    assert "spec(s): wrote" in in_ci
