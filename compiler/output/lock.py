"""An exclusive lock on a deployment repository, so two `mlspec commit` runs never interleave.

The lock is a file created with O_EXCL (atomic on every local filesystem) holding the owner's host and
pid. A lock whose owner is a dead process on this host is stale and is taken over; a lock held by a
live process is waited for up to a timeout, then reported instead of being broken.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from compiler.errors import EnvironmentFault

POLL_SECONDS = 0.05


class LockBusy(EnvironmentFault):
    """Another run holds the lock and did not release it in time."""


def _owner_alive(info: dict[str, object]) -> bool:
    if info.get("host") != socket.gethostname():
        return True  # cannot tell for another host: never break someone else's lock
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # corrupt (locks are linked in whole, so never half-written): stale
    return data if isinstance(data, dict) else {}


def _try_create(path: Path) -> bool:
    # Write the owner to a private file, then hard-link it into place: the lock appears complete or
    # not at all, so nobody can read a half-written lock and mistake it for a stale one.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _break_if_stale(path: Path) -> bool:
    info = _read(path)
    if info is None:
        return True  # released meanwhile
    if info and _owner_alive(info):
        return False
    # Rename first so two runs breaking the same stale lock cannot both delete a fresh one.
    grave = path.with_name(f"{path.name}.stale-{os.getpid()}")
    try:
        os.replace(path, grave)
    except FileNotFoundError:
        return True
    if _read(grave) != info:  # someone else's fresh lock got renamed: put it back
        with suppress(FileExistsError):
            os.link(grave, path)
        grave.unlink(missing_ok=True)
        return False
    grave.unlink(missing_ok=True)
    return True


@contextmanager
def repo_lock(path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold `path` exclusively; raise LockBusy after `timeout` seconds of a live owner holding it."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while not _try_create(path):
        if _break_if_stale(path):
            continue
        if time.monotonic() >= deadline:
            info = _read(path) or {}
            raise LockBusy(f"{path} is held by pid {info.get('pid', '?')} on {info.get('host', '?')}; "
                           f"another mlspec run is working on this repository")
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
