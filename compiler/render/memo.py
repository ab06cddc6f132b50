"""A content-addressed memo for per-file work that project-wide hooks repeat on every render.

`render_repository` reads every rendered file; a target that derives something from each file's bytes
(the gitops target classifies 15k YAML files for 1,000 models) asks `cached(namespace, file_digest(...),
compute)` and computes only for content it has not seen. An incremental render (compiler.output.incremental)
persists the entries used in a run with its cache and knows the digest of every file it reused without
reading it, so a render after one spec changed parses only that spec's files. A value must depend on the
bytes alone, and callers must not mutate it (it is shared).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_STORE: dict[tuple[str, str], Any] = {}
_USED: set[tuple[str, str]] = set()


def file_digest(rendered: Mapping[str, bytes], path: str) -> str:
    """The sha256 of `rendered[path]`; free (no read) when the mapping knows it (`sha256(path)`)."""
    known = getattr(rendered, "sha256", None)
    if callable(known):
        found = known(path)
        if isinstance(found, str):
            return found
    return hashlib.sha256(rendered[path]).hexdigest()


class HashedFiles(dict[str, bytes]):
    """A spec's rendered files (path -> bytes) that hash each file once: the file facts, the gitops share
    and the fresh tree's writer all ask for the digest of the same bytes (three passes over ~130 KB a
    spec). A digest is remembered with the bytes it is of, so a file replaced since (a declared patch) is
    hashed again."""

    __slots__ = ("_digests",)

    def __init__(self) -> None:
        super().__init__()
        self._digests: dict[str, tuple[bytes, str]] = {}

    def sha256(self, key: str) -> str:
        data = self[key]
        found = self._digests.get(key)
        if found is None or found[0] is not data:
            found = self._digests[key] = (data, hashlib.sha256(data).hexdigest())
        return found[1]


class Within(Mapping[str, bytes]):
    """The files of `rendered` under `prefix`, their digests as `rendered` knows them (see file_digest)."""

    def __init__(self, rendered: Mapping[str, bytes], prefix: str) -> None:
        self._rendered, self._prefix = rendered, prefix
        self._paths = [path for path in rendered if path.startswith(prefix)]

    def __getitem__(self, key: str) -> bytes:
        if not key.startswith(self._prefix):
            raise KeyError(key)
        return self._rendered[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def sha256(self, key: str) -> str:
        if not key.startswith(self._prefix):
            raise KeyError(key)
        return file_digest(self._rendered, key)


def cached(namespace: str, digest: str, compute: Callable[[], T]) -> T:
    key = (namespace, digest)
    _USED.add(key)
    if key in _STORE:
        value: T = _STORE[key]
        return value
    value = _STORE[key] = compute()
    return value


def used() -> dict[tuple[str, str], Any]:
    """The entries this process used: what is worth keeping for the next run."""
    return {k: _STORE[k] for k in _USED if k in _STORE}


def preload(entries: Mapping[tuple[str, str], Any]) -> None:
    _STORE.update(entries)


@contextmanager
def preloaded(entries: Mapping[tuple[str, str], Any]) -> Iterator[None]:
    """`entries` known within the block only (one spec's facts, where its share is computed): a worker
    process rendering 500 specs would otherwise keep every one's facts to the end."""
    fresh = [key for key in entries if key not in _STORE]
    _STORE.update(entries)
    try:
        yield
    finally:
        for key in fresh:
            _STORE.pop(key, None)
