"""Errors that end a run, each with the exit code compiler/cli.py gives it.

Problems in the input are diagnostics, never these. What is left is the machine refusing (a full disk,
a read-only directory, a missing permission: the user's environment, exit 2) and bugs (exit 3).
"""

from __future__ import annotations

import errno
import os


class MlspecError(Exception):
    """Base class: `exit_code` is what the command line exits with."""

    exit_code = 3


class EnvironmentFault(MlspecError):
    """The operating system refused an operation: one line naming the path and the errno, exit 2."""

    exit_code = 2

    def __init__(self, action: str, path: str | os.PathLike[str], error: OSError) -> None:
        self.action = action
        self.path = shown_path(path)
        self.error = error
        name = errno.errorcode.get(error.errno or 0)
        reason = error.strerror or str(error) or type(error).__name__
        where = f" {self.path}" if self.path else ""
        super().__init__(f"cannot {action}{where}: {reason}" + (f" ({name})" if name else ""))

    @classmethod
    def of(cls, action: str, error: OSError) -> EnvironmentFault:
        """A fault for an OSError raised without our context: the path is the one the error names."""
        return cls(action, error.filename if error.filename is not None else "", error)


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
