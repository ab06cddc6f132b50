"""compiler.output.writer.FileSystem.write: a new file exactly as open(path, "xb") made it, without the
buffered file object: the same bytes and mode, an existing file refused, a short write finished."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from compiler.output import writer


def test_a_new_file_as_open_makes_it(tmp_path: Path) -> None:
    writer.FileSystem().write(tmp_path / "new", b"data\n")
    with open(tmp_path / "reference", "xb") as handle:
        handle.write(b"data\n")
    assert (tmp_path / "new").read_bytes() == b"data\n"
    mode = stat.S_IMODE((tmp_path / "new").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "reference").stat().st_mode)
    writer.FileSystem().write(tmp_path / "empty", b"")
    assert (tmp_path / "empty").read_bytes() == b""


def test_an_existing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "there").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        writer.FileSystem().write(tmp_path / "there", b"new")
    assert (tmp_path / "there").read_bytes() == b"old"


def test_a_short_write_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.write
    monkeypatch.setattr(writer.os, "write", lambda fd, data: real(fd, bytes(data[:3])))
    writer.FileSystem().write(tmp_path / "file", b"0123456789")
    assert (tmp_path / "file").read_bytes() == b"0123456789"


def test_a_refused_write_closes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[int] = []
    real_close = os.close

    def write(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    def close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(writer.os, "write", write)
    monkeypatch.setattr(writer.os, "close", close)
    with pytest.raises(OSError, match="No space left"):
        writer.FileSystem().write(tmp_path / "file", b"data")
    assert len(closed) == 1
