"""A render into a new or empty directory writes a fresh tree (compiler.output.writer): the pool's workers
write the files of the specs they render into one hidden directory, renamed into place entry by entry at
the commit point. The result is byte for byte the plain render's, and every interruption leaves the
directory as it was (or, after the commit point, lets the next run finish)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from faults import tree
from test_staged_render import SPECS, Killed, _reference, project  # noqa: F401 (a fixture)
from test_writer_faults import KillAtReplace
from test_writer_faults import Killed as KilledAtRename

from compiler import pipeline
from compiler.errors import EnvironmentFault
from compiler.output import staged, writer
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
    """Hidden trees, temporaries and journals left under `out`: directories too (an empty hidden tree)."""
    return [p.relative_to(out).as_posix() for p in out.rglob("*") if ".mlspec-new-" in p.name or "journal" in p.name]


def test_the_workers_write_a_first_render_and_it_is_the_plain_render(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(writer.Staging, "write_fresh", _noting_writer)
    monkeypatch.setattr(sys.modules[__name__], "WRITERS", [project.parent / "writers"])
    arrived: list[tuple[int, int]] = []  # (paths written by the worker, bytes that came back) per spec
    receive = staged.StageEach.__call__

    def spy(self: staged.StageEach, result: Any) -> None:
        if isinstance(result.files, staged.WrittenFiles):
            arrived.append((len(result.files.written), sum(map(len, result.files.values()))))
        receive(self, result)

    monkeypatch.setattr(staged.StageEach, "__call__", spy)
    out = project.parent / "out"
    result, change = render_to(out, jobs=2)
    assert result.ok
    assert change is not None
    writers = (project.parent / "writers").read_text().split()
    # The first spec renders here before the pool forks (pipeline._run_all), then one batch per spec
    # from the workers, then the parent's (the project-wide files).
    assert writers[0] == str(os.getpid())
    assert len([pid for pid in writers if pid != str(os.getpid())]) == len(SPECS) - 1
    assert writers[-1] == str(os.getpid())
    # Every spec's files were written where it rendered: paths came back, not one byte.
    assert len(arrived) == len(SPECS)
    assert all(written > 10 and sent == 0 for written, sent in arrived)
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
    # ... in a line an mlspec from before fresh trees reads as damaged (no "entries" to ignore it by).
    assert "entries" not in json.loads(left[".mlspec/journal.staging.json"].split(b"\n")[0])
    assert all(".mlspec-new-" in rel for rel in left if not rel.startswith(".mlspec/"))
    assert recover(out)
    assert tree(out) == {}
    result, _ = render_to(out, jobs=1)
    assert result.ok
    assert tree(out) == _reference(project, monkeypatch)


@pytest.mark.parametrize("renames", [1, 2, 3, 4, 5, 6])
def test_a_crash_around_the_commit_point_of_a_fresh_tree_is_all_or_nothing(tmp_path: Path, renames: int) -> None:
    out = tmp_path / "out"
    with pytest.raises(KilledAtRename):
        write_tree(out, NEW, fs=KillAtReplace(renames))
    if renames in (2, 3, 4):  # top-level entries are renamed in before the manifest that lists them
        assert not (out / ".mlspec" / "manifest.json").exists()
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


def test_a_failed_spec_does_not_hide_the_collisions_of_the_specs_after_it(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # Workers forked before the parent saw the failure still write the later specs; their paths must
    # reach the collision check (MLS502) exactly as in a render by one process or into a full directory.
    (project / "specs" / "aa-broken.yaml").write_text("apiVersion: mlspec/v1\nkind: Model\nmetadata: {name: zz}\n")
    (project / "specs" / "zz-copy.yaml").write_text((project / "specs" / "model-0000.yaml").read_text())
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)

    def codes(out: Path, jobs: int) -> list[str]:
        result, _ = render_to(out, jobs=jobs)
        assert not result.ok
        return [d.to_text() for d in result.diagnostics]

    alone = codes(project.parent / "one", jobs=1)
    assert any("MLS502" in line for line in alone)
    assert codes(project.parent / "pool", jobs=2) == alone
    assert not (project.parent / "pool").exists()


def test_a_file_appearing_in_the_output_directory_during_the_render_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def render_while_someone_writes() -> None:
        with writer.staging(out) as session:
            session.stage(NEW)
            (out / "top.yaml").write_bytes(b"mine\n")  # someone else writes into the directory meanwhile
            session.commit()

    with pytest.raises(EnvironmentFault) as caught:
        render_while_someone_writes()
    assert caught.value.error.errno == errno.EEXIST
    assert tree(out) == {"top.yaml": b"mine\n"}
    assert not _litter(out)


class RefuseTopRenames(FileSystem):
    """No top-level entry of a fresh tree can be renamed into place."""

    def replace(self, src: Path, dst: Path) -> None:
        if src.parent.name.startswith(".mlspec-new-") and src.parent.name.endswith("-tree"):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(dst))
        super().replace(src, dst)


def test_rolling_back_a_fresh_tree_leaves_a_directory_someone_put_in_its_place(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KilledAtRename):
        write_tree(out, NEW, fs=KillAtReplace(3))  # after the commit point: "a" renamed in, then killed
    shutil.rmtree(out / "a")
    (out / "a").mkdir()
    (out / "a" / "mine.txt").write_bytes(b"mine\n")
    with pytest.raises(EnvironmentFault):
        recover(out, RefuseTopRenames())  # the roll-forward is refused: roll back what this write renamed in
    assert (out / "a" / "mine.txt").read_bytes() == b"mine\n"  # not what the write renamed in: kept
    assert not (out / "b").exists()
