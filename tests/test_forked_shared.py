"""compiler.forked.shared: calls shared out between this process and forked children that claim chunks of
indexes from a shared counter. The answers are the calls' own, in index order, whoever computed them; what a
child that failed had claimed is computed here; a call that raises here leaves no child behind."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler import forked


def _where(i: int) -> tuple[int, int]:
    return i, os.getpid()


def _waiting_for_another(marks: Path) -> Callable[[int], tuple[int, int]]:
    """`_where`, except that a process's first call waits until another process has made one (at most 30 s):
    the calls are so quick that the first process to start could otherwise claim them all. A process is
    blocked in a call only after claiming its chunk, so another one claims the next."""
    marks.mkdir()

    def call(i: int) -> tuple[int, int]:
        (marks / str(os.getpid())).touch()
        deadline = time.monotonic() + 30
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        return _where(i)

    return call


def test_every_call_answered_in_order_by_more_than_one_process(tmp_path: Path) -> None:
    answers = forked.shared(400, _waiting_for_another(tmp_path / "marks"), 2, 4)
    assert [i for i, _ in answers] == list(range(400))
    pids = {pid for _, pid in answers}
    assert os.getpid() in pids  # this process takes a share instead of waiting
    assert len(pids) == 2  # and one child took the rest


def test_each_process_claims_whole_chunks(tmp_path: Path) -> None:
    answers = forked.shared(90, _waiting_for_another(tmp_path / "marks"), 3, 5)
    for start in range(0, 90, 5):  # a chunk is computed by one process
        assert len({pid for _, pid in answers[start:start + 5]}) == 1
    assert len({pid for _, pid in answers}) >= 2


def test_what_a_failed_child_claimed_is_computed_here() -> None:
    parent = os.getpid()

    def dies_in_a_child(i: int) -> tuple[int, int]:
        if os.getpid() != parent:
            os._exit(3)  # as a child killed mid-way (out of memory, a signal)
        return _where(i)

    answers = forked.shared(200, dies_in_a_child, 3, 2)
    assert answers == [(i, parent) for i in range(200)]


def test_a_call_that_raises_here_leaves_no_child_running(tmp_path: Path) -> None:
    parent = os.getpid()
    began = tmp_path / "began"

    def fails_here(i: int) -> int:
        if os.getpid() == parent:
            began.touch()
            raise ValueError(f"call {i} failed")
        # The child's first call waits for this process's first (at most 30 s): it cannot claim every call
        # before this process claims one, however the two are scheduled.
        deadline = time.monotonic() + 30
        while not began.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        return i

    with pytest.raises(ValueError, match=r"call \d+ failed"):
        forked.shared(10_000, fails_here, 2, 1)
    with pytest.raises(ChildProcessError):  # the child was waited for
        os.waitpid(-1, os.WNOHANG)


def test_a_single_process_forks_nothing() -> None:
    assert forked.shared(5, _where, 1, 2) == [(i, os.getpid()) for i in range(5)]


def test_without_semaphores_this_process_computes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the fork context's lock cannot be made (no /dev/shm in some sandboxes), nothing forks."""
    import multiprocessing.context

    def no_semaphores(self: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing.context.BaseContext, "Lock", no_semaphores)
    assert forked.shared(50, _where, 2, 1) == [(i, os.getpid()) for i in range(50)]
