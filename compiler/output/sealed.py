"""Cache files that mlspec wrote itself, and no one else: pickles sealed under a key kept outside any repository.

The render and lint caches live beside the specs (`.mlspec-cache/`, in the spec repository), and specs
arrive in pull requests. Unpickling runs code, so a pickle committed there by force (`git add -f`) would
run in CI the moment a render loaded its cache. Every cache file is therefore sealed: an HMAC-SHA256 of
the pickle under a per-user key in `$XDG_CACHE_HOME/mlspec/cache.key` (default `~/.cache`), created with
mode 0600 on first use. A file whose seal does not verify (planted, from another user or machine, torn)
is never unpickled: the caller sees a cache miss and renders from scratch. Where no key can be kept (no
writable home), each process seals with a key of its own, so its caches only ever miss.
"""

from __future__ import annotations

import copyreg
import functools
import hashlib
import hmac
import io
import os
import pickle
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"mlspec-sealed-pickle-1\n"
_KEY_BYTES = 32
_DIGEST = hashlib.sha256().digest_size


def key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlspec" / "cache.key"


def _read_key(path: Path) -> bytes:
    """The key, only from a regular file of this user's that no one else can read or write."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        found = os.fstat(fd)
        if (not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077
                or found.st_size != _KEY_BYTES):
            raise PermissionError(f"{path}: not a private {_KEY_BYTES}-byte key file of this user")
        return os.read(fd, _KEY_BYTES)
    finally:
        os.close(fd)


@functools.cache
def key() -> bytes:
    path = key_path()
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return os.urandom(_KEY_BYTES)  # unusable key file: this process's caches are its own only
    new = os.urandom(_KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another process made it first (or is writing it now)
        try:
            return _read_key(path)
        except OSError:
            return new
    except OSError:
        return new
    try:
        os.write(fd, new)
    finally:
        os.close(fd)
    return new


def pickled(obj: Any, table: Mapping[type, Any] | None = None) -> bytes:
    """`obj` pickled with `table` as extra reducers, unsealed: for a part of a sealed file that is unpickled
    only when needed (its seal is the file's)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    if table:
        pickler.dispatch_table = {**copyreg.dispatch_table, **table}
    pickler.dump(obj)
    return buffer.getvalue()


def dump(handle: BinaryIO, obj: Any, table: Mapping[type, Any] | None = None) -> None:
    """Pickle `obj` (with `table` as extra reducers) into `handle`, sealed."""
    payload = pickled(obj, table)
    handle.write(MAGIC)
    handle.write(hmac.new(key(), payload, hashlib.sha256).digest())
    handle.write(payload)


def unseal(blob: bytes) -> memoryview:
    """The pickle inside a sealed file's bytes; ValueError when the seal does not verify."""
    if not blob.startswith(MAGIC):
        raise ValueError("not a sealed mlspec cache file")
    start = len(MAGIC) + _DIGEST
    payload = memoryview(blob)[start:]
    if not hmac.compare_digest(blob[len(MAGIC):start], hmac.new(key(), payload, hashlib.sha256).digest()):
        raise ValueError("the seal does not verify: not written by this user's mlspec")
    return payload


def load(handle: BinaryIO) -> Any:
    """What `dump` sealed; ValueError (before unpickling anything) when the seal does not verify."""
    return pickle.loads(unseal(handle.read()))
