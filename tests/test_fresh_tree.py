"""A render into a new or empty directory writes a fresh tree (compiler.output.writer): the pool's workers
write the files of the specs they render into one hidden directory, renamed into place entry by entry at
the commit point. The result is byte for byte the plain render's, and every interruption leaves the
directory as it was (or, after the commit point, lets the next run finish)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from faults import tree
from test_staged_render import SPECS, Killed, _reference, project  # noqa: F401 (a fixture)

from compiler import pipeline
from compiler.errors import EnvironmentFault
from compiler.output import writer
from compiler.output.tree import render_to
from compiler.output.writer import FileSystem, recover, write_tree

NEW = {"a/one.yaml": b"ONE\n", "b/two.yaml": b"TWO\n", "top.yaml": b"top\n", ".mlspec/manifest.json": b"{}\n"}

WRITERS: list[Path] = []  # where _noting_writer notes the process writing each batch into the fresh tree
WRITE_FRESH = writer.Staging.write_fresh


def _noting_writer(self: writer.Staging, files: Any) -> list[str]:
    with WRITERS[0].open("a") as handle:
        handle.write(f"{os.getpid()}\n")
    return WRITE_FRESH(self, files)


def _litter(out: Path) -> list[str]:
    return [rel for rel in tree(out) if ".mlspec-new-" in rel or "journal" in rel]


def test_the_workers_write_a_first_render_and_it_is_the_plain_render(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(writer.Staging, "write_fresh", _noting_writer)
    monkeypatch.setattr(sys.modules[__name__], "WRITERS", [project.parent / "writers"])
    out = project.parent / "out"
    result, change = render_to(out, jobs=2)
    assert result.ok
    assert change is not None
    writers = (project.parent / "writers").read_text().split()
    # One batch per spec from the workers, then the parent's (the project-wide files).
    assert len([pid for pid in writers if pid != str(os.getpid())]) == len(SPECS)
    assert writers[-1] == str(os.getpid())
    written = tree(out)
    assert written == _reference(project, monkeypatch)
    assert sorted(change.added) == sorted(written)
    assert not _litter(out)


def test_a_kill_mid_first_render_leaves_the_directory_empty_after_recovery(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    out = project.parent / "out"
    calls = [0]

    def killed_at_the_third(self: writer.Staging, files: Any) -> list[str]:
        calls[0] += 1
        if calls[0] == 3:
            raise Killed
        return WRITE_FRESH(self, files)

    with monkeypatch.context() as patch:
        patch.setattr(writer.Staging, "write_fresh", killed_at_the_third)
        with pytest.raises(Killed):
            render_to(out, jobs=1)
    left = tree(out)
    assert ".mlspec/journal.staging.json" in left  # a kill cleans nothing up: the journal names the hidden tree
    assert all(".mlspec-new-" in rel for rel in left if not rel.startswith(".mlspec/"))
    assert recover(out)
    assert tree(out) == {}
    result, _ = render_to(out, jobs=1)
    assert result.ok
    assert tree(out) == _reference(project, monkeypatch)


class KillAtReplace(FileSystem):
    """Dies at the n-th rename (the first one is the commit point)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def replace(self, src: Path, dst: Path) -> None:
        self.n -= 1
        if self.n == 0:
            raise Killed
        super().replace(src, dst)


@pytest.mark.parametrize("renames", [1, 2, 3, 4])
def test_a_crash_around_the_commit_point_of_a_fresh_tree_is_all_or_nothing(tmp_path: Path, renames: int) -> None:
    out = tmp_path / "out"
    with pytest.raises(Killed):
        write_tree(out, NEW, fs=KillAtReplace(renames))
    assert recover(out)
    # Killed at the commit point: nothing happened; after it (a top-level entry or two renamed): finished.
    assert tree(out) == ({} if renames == 1 else NEW)
    assert not _litter(out)


class RefuseSecondTop(FileSystem):
    """The second top-level entry of the fresh tree cannot be renamed into place (after the commit point)."""

    def __init__(self) -> None:
        self.tops = 0

    def replace(self, src: Path, dst: Path) -> None:
        if ".mlspec-new-" in str(src) and src.parent.name.endswith("-tree"):
            self.tops += 1
            if self.tops == 2:
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(dst))
        super().replace(src, dst)


def test_a_refused_rename_of_a_fresh_tree_undoes_the_entries_already_renamed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(EnvironmentFault) as caught:
        write_tree(out, NEW, fs=RefuseSecondTop())
    assert caught.value.error.errno == errno.EXDEV
    assert tree(out) == {}  # "a" was renamed in before "b" was refused: gone again, with the hidden tree
    assert not recover(out)
    write_tree(out, NEW)
    assert tree(out) == NEW


def test_a_directory_holding_anything_is_written_file_by_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_bytes(b"mine\n")
    seen: list[str | None] = []

    class Spy(FileSystem):
        def write(self, path: Path | str, data: bytes) -> None:
            seen.append(str(path))
            super().write(path, data)

    write_tree(out, NEW, fs=Spy())
    assert tree(out) == {**NEW, "README.md": b"mine\n"}
    assert not any("-tree/" in path for path in seen)  # beside each destination, not in a fresh tree
