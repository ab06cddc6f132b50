"""Ending the `mlspec` process once its command is done, without tearing the interpreter down.

When a command returns, Python's shutdown frees every object one at a time: the modules, the
pydantic validators, a render's plans and caches. The operating system takes the whole heap back at
once, so that work is wasted: ~0.07 s of a one-spec lint (~0.3 s in all, with a budget of 0.3 s) and
more after a render. `os._exit` skips it, as mypy does, once what the shutdown does that anyone can
observe has been done, in the shutdown's own order:

- threads: Python waits for every non-daemon thread; while one runs, the normal exit is taken;
- the atexit callbacks (multiprocessing's cleanup of its workers, temporary directories, logging,
  coverage's data file), run here;
- standard output and error flushed; when that fails (a closed pipe) the normal exit reports it and
  exits 120 as it always did;
- the exit status: `sys.exit(None)` is 0, an int is itself; a message (`sys.exit("text")`) takes the
  normal exit, which prints it;
- a profiler or tracer (`python -m cProfile -m compiler ...`, a debugger) takes the normal exit: it
  writes its report after the command returns.

Only the command-line entry calls this (compiler.cli.main without arguments): the library and the
tests calling `main([...])` keep their interpreter. Objects are not finalized, so nothing may rely on
`__del__` for output: files are written through context managers (compiler.output.writer).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def end_process(code: object) -> None:
    """End the process with the exit status `code` (a SystemExit's), or return when only the normal exit
    can end it faithfully; the caller then raises its SystemExit as usual."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        return
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return  # `python -m cProfile` and debuggers write or report after the command returns
    atexit._run_exitfuncs()  # and forgets them, so the normal exit below would not run them twice
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # e.g. BrokenPipeError: the normal exit reports it (exit status 120)
        return
    os._exit(status)
