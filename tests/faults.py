"""Real faults for the tests: immutable directories, read-only and tiny tmpfs mounts, a process without
root's permission override. Tests run as root, where `chmod 0555` stops nothing, so these are the
mechanisms that make the kernel refuse for real. A missing mechanism skips locally and fails in CI
(tests/tools.py unavailable); `.ci/run` installs the tools.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools import unavailable

# Run a command as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: file modes apply to it again.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        unavailable(f"{args[0]} is not installed ({exc}); .ci/run installs it")


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """`chattr +i`: nothing (not even root) may create, rename or delete entries in `path`."""
    done = _run("chattr", "+i", str(path))
    if done.returncode != 0:
        unavailable(f"chattr +i does not work on {path} (needs root and ext4/xfs/btrfs): {done.stderr.strip()}")
    try:
        yield path
    finally:
        _run("chattr", "-i", str(path))


@contextmanager
def tmpfs(path: Path, size: str = "64k", *, read_only: bool = False) -> Iterator[Path]:
    """A separate filesystem at `path`: another device (cross-device renames fail), `size` bytes big."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    done = _run("mount", "-t", "tmpfs", "-o", options, "mlspec-test", str(path))
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the filesystem holding `directory` until at most `leave` bytes are free; returns the filler."""
    filler = directory / ".filler"
    with open(filler, "wb") as handle:
        chunk = b"\0" * 4096
        try:
            while os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize > leave:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return filler


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden ones included, .git excluded) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}
