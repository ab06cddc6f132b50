"""The `mlspec` process ends without tearing the interpreter down (compiler.process_exit), and nothing a
user or a tool can observe changes: exit statuses, every byte of output through a pipe, atexit callbacks
(multiprocessing's, temporary directories', coverage's), threads that are still working."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from compiler.language.jsonschema_export import spec_schema_text
from compiler.process_exit import end_process
from golden import REPO

# Run as the command is (compiler.cli.main without arguments), with what a caller may have left behind:
# an atexit callback, an object with a finalizer and, when asked, a non-daemon thread still working.
PROGRAM = """
import atexit, sys, threading, time
from pathlib import Path
out = Path(sys.argv[1])
class Finalized:
    def __del__(self):
        (out / "finalized").write_text("")
kept = Finalized()
atexit.register(lambda: (out / "atexit").write_text(""))
if sys.argv[2] == "thread":
    def late():
        time.sleep(0.3)
        (out / "thread").write_text("")
    threading.Thread(target=late).start()
sys.argv = ["mlspec", *sys.argv[3:]]
from compiler.cli import main
main()
"""


def _program(tmp_path: Path, thread: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), thread, *args], capture_output=True,
                          text=True, check=False, cwd=REPO, env={**os.environ, "MLSPEC_INCREMENTAL": "0"})


def test_the_command_ends_without_finalizing_but_runs_atexit_and_keeps_its_status(tmp_path: Path) -> None:
    done = _program(tmp_path, "-", "lint", "tests/invalid/bad-cron.yaml")
    assert done.returncode == 1, done.stderr
    assert done.stderr.rstrip().endswith("0 warning(s)")  # the whole report, flushed
    assert (tmp_path / "atexit").exists()
    assert not (tmp_path / "finalized").exists()  # the heap was not torn down


def test_a_working_thread_is_waited_for(tmp_path: Path) -> None:
    done = _program(tmp_path, "thread", "--version")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "thread").exists()
    assert (tmp_path / "atexit").exists()


@pytest.mark.parametrize(("args", "status"), [(["--version"], 0), (["lint", "no-such-spec.yaml"], 1),
                                              (["no-such-verb"], 2)])
def test_exit_statuses_of_the_command(tmp_path: Path, args: list[str], status: int) -> None:
    done = subprocess.run([sys.executable, "-m", "compiler", *args], capture_output=True, text=True, check=False,
                          cwd=REPO, env={**os.environ, "MLSPEC_CACHE_DIR": str(tmp_path)})
    assert done.returncode == status, done.stderr


def test_standard_output_through_a_pipe_is_complete() -> None:
    done = subprocess.run([sys.executable, "-m", "compiler", "schema"], capture_output=True, text=True, check=True,
                          cwd=REPO)
    assert done.stdout == spec_schema_text()  # ~50 KB: more than one buffer's worth


def test_a_closed_standard_output_ends_as_before() -> None:
    """Standard output is a pipe nobody reads: click reports the broken pipe with status 1 and silences the
    stream, so flushing it at the end fails no more (the normal exit would print nothing either)."""
    program = ("import os, sys\nr, w = os.pipe()\nos.close(r)\nos.dup2(w, 1)\n"
               "sys.argv = ['mlspec', '--version']\nfrom compiler.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, cwd=REPO)
    assert (done.returncode, done.stderr) == (1, "")


def test_what_only_the_normal_exit_does_faithfully_is_left_to_it() -> None:
    end_process("a message")  # printed by Python's own exit
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        end_process(0)  # a non-daemon thread is still working
    finally:
        release.set()
        worker.join()


def test_a_profiled_command_writes_its_profile(tmp_path: Path) -> None:
    """`python -m cProfile -o FILE -m compiler ...` writes FILE after the command returns: the process
    must get there (a developer's first tool when a render is slow)."""
    profile = tmp_path / "render.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "compiler", "--version"],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
