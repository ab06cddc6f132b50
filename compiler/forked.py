"""Work done in forked children while this process goes on, their answers sent back as bytes through a
pipe: a function run beside this process (`start`: compiler.output.stat_check, compiler.output.forked_render),
and a list of calls shared out between this process and its children (`shared`: a lint's specs,
compiler.pipeline). A child inherits everything loaded so far, and ends with `os._exit`, running no cleanup
of this process's (atexit callbacks, buffered output)."""

from __future__ import annotations

import mmap
import os
import pickle
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def start(work: Callable[[], bytes]) -> Callable[[], bytes | None]:
    """Run `work` in a forked child; the returned call waits for its bytes, or None when the child failed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read)
            data = work()
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)

    def answer() -> bytes | None:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        return data if status == 0 else None

    return answer


def shared(count: int, one: Callable[[int], T], processes: int, chunk: int) -> list[T]:
    """`[one(i) for i in range(count)]`, computed by this process and `processes - 1` forked children.

    Each process claims the next `chunk` indexes from a counter in shared memory until none are left, so
    the shares even out however the calls' costs vary. A child sends its answers, pickled, once it has
    claimed the last chunk; what a child that failed had claimed is computed here.

    Against a pool of `processes` workers (multiprocessing.Pool.imap), this process works instead of
    waiting: nothing is pickled for its own share, and no task is sent at all. For a lint of 1,000 specs
    on 2 cores the shared part took 0.50-0.53 s where the pool took 0.58-0.60 s (docs/performance.md).
    """
    import multiprocessing

    try:
        lock = multiprocessing.get_context("fork").Lock()
    except OSError:  # no POSIX semaphores (a sandbox without /dev/shm): no children then
        return [one(i) for i in range(count)]
    cell = mmap.mmap(-1, 8)  # anonymous and shared: the children see one counter
    counter = memoryview(cell).cast("q")

    def claimed() -> list[tuple[int, T]]:
        done: list[tuple[int, T]] = []
        while True:
            with lock:
                first = counter[0]
                counter[0] = first + chunk
            if first >= count:
                return done
            done.extend((i, one(i)) for i in range(first, min(first + chunk, count)))

    children = [start(lambda: pickle.dumps(claimed(), protocol=pickle.HIGHEST_PROTOCOL))
                for _ in range(processes - 1)]
    answers: dict[int, T] = {}
    try:
        answers.update(claimed())
    finally:  # even when a call here raised: each child is waited for, not left blocked on a full pipe
        for child in children:
            data = child()
            if data is not None:
                answers.update(pickle.loads(data))
        counter.release()
        cell.close()
    return [answers[i] if i in answers else one(i) for i in range(count)]
