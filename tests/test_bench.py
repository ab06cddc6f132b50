"""The bench's own measuring (scripts/bench.py): a figure the performance goals are judged by."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from bench import _tree_memory_kb

# A parent that fills 200 MB, forks a child sharing every page of it, and waits with it.
SHARED = """
import os, sys, time
block = bytearray(200 * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
child = os.fork()
if not child:
    time.sleep(120)
    os._exit(0)
print("ready", flush=True)
sys.stdin.readline()
os.kill(child, 9)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memory_shared_with_a_forked_child_counts_once() -> None:
    """Forked workers share the parent's pages: the tree's memory counts them once (proportional set
    size), not once per process as a sum of resident sets did (~400 MB here)."""
    process = subprocess.Popen([sys.executable, "-c", SHARED], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        found_mb = _tree_memory_kb(process.pid) / 1024
    finally:
        process.communicate("\n")
    assert 200 <= found_mb < 260


def test_each_measure_starts_from_a_flushed_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The previous command's write-back is not timed in the next one: `measure` syncs, then starts the clock
    and the command."""
    import bench

    events: list[str] = []
    monkeypatch.setattr(bench.os, "sync", lambda: events.append("sync"))
    real_clock, real_popen = bench.time.perf_counter, bench.subprocess.Popen

    def clock() -> float:
        events.append("clock")
        return real_clock()

    def popen(*args: Any, **kwargs: Any) -> Any:
        events.append("command")
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(bench.time, "perf_counter", clock)
    monkeypatch.setattr(bench.subprocess, "Popen", popen)
    bench.measure([sys.executable, "-c", "pass"], tmp_path)
    assert events[:3] == ["sync", "clock", "command"]


def test_the_yardstick_is_the_best_of_three_like_the_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Kapitan's time divides every ratio and one run of it varies by a third here: it is taken as the best of
    three, each into an output directory of its own (nothing deleted between runs), as the mlspec rows take theirs."""
    import bench

    runs = iter([(9.4, 0.0), (5.7, 0.0), (7.1, 0.0), (8.0, 290.0)])
    outputs: list[Path] = []
    monkeypatch.setattr(bench.shutil, "rmtree", lambda *a, **k: pytest.fail("the yardstick deleted a tree"))

    def measure(command: list[str], cwd: Path, *args: Any, sample: bool = False) -> tuple[float, float]:
        output = Path(command[command.index("--output-path") + 1])
        assert not output.exists()  # each run compiles into an empty directory
        (output / "compiled").mkdir(parents=True)
        outputs.append(output)
        return next(runs)

    monkeypatch.setattr(bench, "measure", measure)
    row = bench.yardstick_row(tmp_path / "kapitan", tmp_path, 1000)
    assert (row.seconds, row.peak_mb) == (5.7, 290.0)
    assert len(set(outputs)) == 4


def test_a_timed_run_is_not_sampled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Sampling memory reads each process's smaps_rollup every 20 ms (3-4 ms of kernel time each, under the
    process's memory-map lock): it slowed what it watched. The time is the best of unsampled runs; the memory
    comes from one more run, sampled and not timed."""
    import bench

    sampled: list[int] = []
    monkeypatch.setattr(bench, "_tree_memory_kb", lambda pid: sampled.append(pid) or 50 * 1024)
    command = [sys.executable, "-c", "import time; time.sleep(0.2)"]
    assert bench.measure(command, tmp_path)[1] == 0.0
    assert not sampled
    calls: list[bool] = []

    def run(sample: bool) -> tuple[float, float]:
        calls.append(sample)
        return bench.measure(command, tmp_path, sample=sample)

    seconds, peak = bench.best(3, run)
    assert calls == [False, False, False, True]
    assert peak == 50.0
    assert sampled
    assert seconds >= 0.2


def test_an_earlier_tree_is_deleted_after_measuring_not_before(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Deleting the last run's ~60k files first made the next run measure the file system's recovery (ext4
    `discard` here): the earlier tree is moved aside, and deleted once this run has measured."""
    import bench

    work = tmp_path / "work"
    (work / "mlspec" / "out").mkdir(parents=True)
    (work / "mlspec" / "out" / "file.yaml").write_text("x\n")
    events: list[str] = []
    real_rmtree = bench.shutil.rmtree

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        events.append(f"delete {Path(path).name.split('.old-')[0]}{'.old' if '.old-' in str(path) else ''}")
        real_rmtree(path, *args, **kwargs)

    def rows(root: Path, count: int, cli: list[str]) -> list[Any]:
        events.append("measure")
        assert not (root / "out").exists()  # a fresh tree, with the earlier one still on disk beside it
        assert [p.name.split("-")[0] for p in tmp_path.iterdir() if p.name.startswith("work.old-")] == ["work.old"]
        return [bench.Row("render", 1.0, 10.0)]

    monkeypatch.setattr(bench.shutil, "rmtree", rmtree)
    monkeypatch.setattr(bench, "mlspec_rows", rows)
    monkeypatch.setattr(bench, "generate", lambda count, specs: specs.mkdir(parents=True))
    monkeypatch.setattr(sys, "argv", ["bench", "--no-kapitan", "--work", str(work)])
    assert bench.main() == 0
    assert events == ["measure", "delete work.old", "delete work"]
    assert not any(tmp_path.iterdir())
