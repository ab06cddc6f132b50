"""A function run in a forked child while this process goes on, its answer sent back as bytes through a
pipe (compiler.output.stat_check, compiler.output.forked_render): the child inherits everything loaded so
far, and ends with `os._exit`, running no cleanup of this process's (atexit callbacks, buffered output)."""

from __future__ import annotations

import os
from collections.abc import Callable


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
