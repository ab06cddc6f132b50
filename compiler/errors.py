"""The one error hierarchy of mlspec and its exit codes, mapped here and nowhere else.

Problems in a spec are diagnostics (compiler/diagnostics.py), never exceptions. Exceptions are for what
stops a command outright, and each kind has one exit code (README: 0 clean, 1 findings or differences,
2 usage, 3 internal error):

- `UsageError` (2): the command cannot do what was asked with what it was given (a rollout that
  cannot advance, an unreadable state file, a broken audit chain).
- `EnvironmentFault` (2): the world around mlspec is not as needed (a full disk, a read-only directory,
  a missing permission, git, a lock held by another run, Prometheus unreachable, a file changed under
  us); fixing the environment or retrying later helps. One line, naming the path and errno when the
  operating system refused.
- `InternalError` (3): a bug in mlspec, e.g. a command module that does not import. Any exception that
  is not an `MlspecError` is treated the same way.

Commands catch `MlspecError` (not lists of concrete types) and exit with `exit_code(exc)`.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

USAGE = 2
ENVIRONMENT = 2
INTERNAL = 3


class MlspecError(Exception):
    """Base of every exception a command reports by message instead of a traceback."""

    exit_code: int = INTERNAL


class UsageError(MlspecError):
    exit_code = USAGE


class EnvironmentFault(MlspecError):
    """The environment refused. `EnvironmentFault("message")`, or `EnvironmentFault(action, path, oserror)`
    for the operating system refusing an operation on a path (the message names both and the errno)."""

    exit_code = ENVIRONMENT

    def __init__(self, action: str, path: str | os.PathLike[str] | None = None, error: OSError | None = None) -> None:
        self.action = action
        self.path = shown_path(path) if path is not None else ""
        self.error = error
        if error is None:
            super().__init__(action)
            return
        name = errno.errorcode.get(error.errno or 0)
        reason = error.strerror or str(error) or type(error).__name__
        where = f" {self.path}" if self.path else ""
        super().__init__(f"cannot {action}{where}: {reason}" + (f" ({name})" if name else ""))

    @classmethod
    def of(cls, action: str, error: OSError) -> EnvironmentFault:
        """A fault for an OSError raised without our context: the path is the one the error names."""
        return cls(action, error.filename if error.filename is not None else "", error)


class InternalError(MlspecError):
    exit_code = INTERNAL


def exit_code(exc: BaseException) -> int:
    """The process exit code for an exception that ends a command."""
    return exc.exit_code if isinstance(exc, MlspecError) else INTERNAL


def fail(exc: MlspecError) -> NoReturn:
    """End the command the one way every verb does: `mlspec: error: <what>` on stderr, its exit code."""
    print(f"mlspec: error: {exc}", file=sys.stderr, flush=True)
    sys.exit(exit_code(exc))


def shown_path(path: str | os.PathLike[str]) -> str:
    """The path as the user would type it: relative to the working directory when below it."""
    text = os.fsdecode(path)
    if not text or not os.path.isabs(text):
        return text
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith("..") else rel
