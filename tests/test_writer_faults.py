"""The tree writer under real faults: every failure leaves each path exactly as it was, or (a crash after
the commit point) lets the next run finish the write. Faults are made by the kernel (immutable
directories, read-only and full tmpfs mounts); the injected FileSystem only chooses the moment."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from faults import fill, immutable, tmpfs, tree

from compiler.errors import EnvironmentFault
from compiler.output.writer import FileSystem, recover, write_file, write_tree

OLD = {"a/one.yaml": b"one\n", "b/two.yaml": b"two\n", "b/gone.yaml": b"gone\n", "c/three.yaml": b"three\n"}
NEW = {"a/one.yaml": b"ONE\n", "b/two.yaml": b"TWO\n", "c/three.yaml": b"THREE\n", "d/new/four.yaml": b"4\n"}


def _written(out: Path) -> dict[str, bytes]:
    write_tree(out, OLD)
    before = tree(out)
    assert before == OLD
    return before


class Killed(BaseException):
    """A process killed mid-write: no cleanup runs."""


class KillAtReplace(FileSystem):
    """Dies at the n-th rename (the first one is the commit point)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def replace(self, src: Path, dst: Path) -> None:
        self.n -= 1
        if self.n == 0:
            raise Killed
        super().replace(src, dst)


class KillAtWrite(FileSystem):
    def __init__(self, n: int) -> None:
        self.n = n

    def write(self, path: Path, data: bytes) -> None:
        self.n -= 1
        if self.n == 0:
            raise Killed
        super().write(path, data)


class FreezeAfterCommit(FileSystem):
    """Right after the commit point, a directory becomes immutable (a real EPERM from the kernel)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.frozen = immutable(directory)

    def replace(self, src: Path, dst: Path) -> None:
        super().replace(src, dst)
        if dst.name == "journal.json":
            self.frozen.__enter__()


def test_a_directory_refusing_after_the_commit_point_is_rolled_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _written(out)
    fs = FreezeAfterCommit(out / "b")
    try:
        with pytest.raises(EnvironmentFault) as caught:
            write_tree(out, NEW, ["b/gone.yaml"], fs=fs)
        assert caught.value.error.errno == errno.EPERM
        assert "out/b/" in str(caught.value)
        assert "(EPERM)" in str(caught.value)
        # Every managed path holds its old bytes; only b/ (which refuses everything) keeps litter.
        now = tree(out)
        assert {rel: now.get(rel) for rel in before} == before
        assert not (out / "d").exists()
        assert all(rel.startswith(("b/", ".mlspec/")) for rel in set(now) - set(before))
    finally:
        fs.frozen.__exit__(None, None, None)
    # Once the directory is writable again, the next run finishes the roll-back: the exact old tree.
    assert recover(out)
    assert tree(out) == before
    write_tree(out, NEW, ["b/gone.yaml"])
    assert tree(out) == NEW


def test_an_immutable_file_fails_after_the_commit_point_and_everything_is_undone(tmp_path: Path) -> None:
    # Its directory is writable, so staging and the backup copy succeed; only the rename over the file
    # fails, after the commit point: the one real fault that gets there without any help.
    out = tmp_path / "out"
    before = _written(out)
    with immutable(out / "c" / "three.yaml"):
        with pytest.raises(EnvironmentFault) as caught:
            write_tree(out, NEW, ["b/gone.yaml"])
        assert caught.value.error.errno == errno.EPERM
        assert str(caught.value).endswith("out/c/three.yaml: Operation not permitted (EPERM)")
        assert tree(out) == before  # a/one.yaml and b/two.yaml were already replaced: put back
        assert not (out / "d").exists()
        assert not recover(out)


def test_an_environment_fault_names_the_path_and_the_errno() -> None:
    fault = EnvironmentFault("write", "out/x.yaml", OSError(errno.ENOSPC, "No space left on device"))
    assert str(fault) == "cannot write out/x.yaml: No space left on device (ENOSPC)"
    assert fault.exit_code == 2
    assert str(EnvironmentFault.of("access", OSError(errno.EIO, "Input/output error"))) == \
        "cannot access: Input/output error (EIO)"


def test_a_crash_while_writing_the_journal_is_recovered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _written(out)
    (out / ".mlspec" / "journal.staging.json").write_bytes(b'{"entries": [{"path": "a/one.y')  # cut short
    assert recover(out)
    assert tree(out) == before
    write_tree(out, NEW, ["b/gone.yaml"])
    assert tree(out) == NEW


def test_a_damaged_committed_journal_is_an_environment_fault_not_a_crash(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _written(out)
    (out / ".mlspec" / "journal.json").write_bytes(b"\0\0\0")
    with pytest.raises(EnvironmentFault, match=r"journal.json: damaged.*\(EIO\)"):
        write_tree(out, NEW)


@pytest.mark.parametrize("renames", [1, 2, 3])
def test_a_crash_before_or_after_the_commit_point_is_all_or_nothing(tmp_path: Path, renames: int) -> None:
    out = tmp_path / "out"
    before = _written(out)
    with pytest.raises(Killed):
        write_tree(out, NEW, ["b/gone.yaml"], fs=KillAtReplace(renames))
    assert recover(out)
    # Killed at the commit point: the write never happened; after it: the next run finishes it.
    assert tree(out) == (before if renames == 1 else NEW)


def test_a_crash_while_staging_leaves_the_old_tree_and_no_litter(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _written(out)
    with pytest.raises(Killed):
        write_tree(out, NEW, ["b/gone.yaml"], fs=KillAtWrite(4))
    assert recover(out)
    assert tree(out) == before
    assert not (out / "d").exists()


@pytest.mark.parametrize("how", ["immutable", "read-only mount"])
def test_a_read_only_subdirectory_fails_before_anything_changes(tmp_path: Path, how: str) -> None:
    out = tmp_path / "out"
    before = _written(out)
    if how == "immutable":
        refusing = immutable(out / "b")
        expected = errno.EPERM
    else:
        (out / "b" / "two.yaml").unlink()
        (out / "b" / "gone.yaml").unlink()
        refusing = tmpfs(out / "b", read_only=True)
        before = {k: v for k, v in before.items() if not k.startswith("b/")}
        expected = errno.EROFS
    with refusing, pytest.raises(EnvironmentFault) as caught:
        write_tree(out, NEW, ["b/gone.yaml"])
    assert caught.value.error.errno == expected
    assert tree(out) == before  # no journal, no temporaries, no new directories
    assert not recover(out)


def test_a_cross_device_subdirectory_is_written_like_any_other(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with tmpfs(out / "b", size="1m"):
        before = _written(out)
        assert before == OLD
        write_tree(out, NEW, ["b/gone.yaml"])
        assert tree(out) == NEW


def test_a_full_disk_leaves_the_old_tree(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "out", size="64k") as out:
        before = _written(out)
        big = {**NEW, "e/big.bin": b"x" * 200_000}
        with pytest.raises(EnvironmentFault) as caught:
            write_tree(out, big, ["b/gone.yaml"])
        assert caught.value.error.errno == errno.ENOSPC
        assert "No space left on device (ENOSPC)" in str(caught.value)
        assert tree(out) == before
        assert not recover(out)


def test_a_full_disk_even_for_the_journal_leaves_the_old_tree(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "out", size="64k") as out:
        before = _written(out)
        filler = fill(out)
        with pytest.raises(EnvironmentFault) as caught:
            write_tree(out, NEW, ["b/gone.yaml"])
        assert caught.value.error.errno == errno.ENOSPC
        filler.unlink()
        assert tree(out) == before
        assert not recover(out)


def test_write_file_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "out", size="64k") as out:
        target = out / "schema.json"
        target.write_bytes(b"old\n")
        with pytest.raises(EnvironmentFault) as caught:
            write_file(target, b"x" * 200_000)
        assert caught.value.error.errno == errno.ENOSPC
        assert tree(out) == {"schema.json": b"old\n"}


def test_concurrent_writers_into_one_directory_take_turns(tmp_path: Path) -> None:
    import threading

    out = tmp_path / "out"
    trees = [{f"m/{i}.yaml": f"{who} {i}\n".encode() for i in range(60)} for who in ("first", "second")]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(files: dict[str, bytes]) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                write_tree(out, files)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tree(out) in trees  # exactly one of them, never a mix, no journal or temporaries left
