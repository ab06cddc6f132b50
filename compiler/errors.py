"""The one error hierarchy of mlspec and its exit codes, mapped here and nowhere else.

Problems in a spec are diagnostics (compiler/diagnostics.py), never exceptions. Exceptions are for what
stops a command outright, and each kind has one exit code (README: 0 clean, 1 findings or differences,
2 usage, 3 internal error):

- `UsageError` (2): the command cannot do what was asked with what it was given (a rollout that
  cannot advance, an unreadable state file, a broken audit chain).
- `EnvironmentFault` (2): the world around mlspec is not as needed (git, a lock held by another run,
  Prometheus unreachable, a file changed under us); retrying later or fixing the environment helps.
- `InternalError` (3): a bug in mlspec, e.g. a command module that does not import. Any exception that
  is not an `MlspecError` is treated the same way.

Commands catch `MlspecError` (not lists of concrete types) and exit with `exit_code(exc)`.
"""

from __future__ import annotations

USAGE = 2
ENVIRONMENT = 2
INTERNAL = 3


class MlspecError(Exception):
    """Base of every exception a command reports by message instead of a traceback."""

    exit_code: int = INTERNAL


class UsageError(MlspecError):
    exit_code = USAGE


class EnvironmentFault(MlspecError):
    exit_code = ENVIRONMENT


class InternalError(MlspecError):
    exit_code = INTERNAL


def exit_code(exc: BaseException) -> int:
    """The process exit code for an exception that ends a command."""
    return exc.exit_code if isinstance(exc, MlspecError) else INTERNAL
