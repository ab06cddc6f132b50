"""A render into a directory stages each spec's files as it arrives (compiler.output.staged) instead of
holding the whole tree in memory: the tree still changes all at once or not at all. A spec failing after
others were staged, or a kill mid-staging, leaves every path as it was (the next run's recover() deletes
the temporaries); the output is byte for byte the non-streaming render's, in the pool too."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from faults import immutable, tree

from compiler import pipeline
from compiler.errors import EnvironmentFault
from compiler.output import writer
from compiler.output.tree import render_to
from compiler.output.writer import FileSystem, recover, staging
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec

SPECS = [0, 2, 3, 4]  # realtime, batch, streaming, edge


class Killed(BaseException):
    """A process killed mid-render: no cleanup runs."""


def _write_spec(root: Path, index: int, description: str = "") -> None:
    spec = make_spec(index)
    if description:
        spec["metadata"]["description"] = description
    (root / "specs" / f"model-{index:04d}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=120))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for index in SPECS:
        _write_spec(root, index)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "1")
    return root


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The paths of every batch handed to a staging session, in order (proof the streaming path ran)."""
    seen: list[list[str]] = []
    stage = writer.Staging.stage

    def spy(self: writer.Staging, files: Any, remove: Any = ()) -> None:
        seen.append(sorted(files))
        stage(self, files, remove)

    monkeypatch.setattr(writer.Staging, "stage", spy)
    return seen


PIDS: list[Path] = []  # where _pid_worker notes the process that rendered each spec


def _pid_worker(*args: Any, **kwargs: Any) -> Any:
    """compiler.pipeline._worker, noting its process (module level: the pool pickles it by name)."""
    with PIDS[0].open("a") as handle:
        handle.write(f"{os.getpid()}\n")
    return WORKER(*args, **kwargs)


WORKER = pipeline._worker


def _reference(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The non-streaming render (every file in memory, one write_tree) of the same specs."""
    reference = root.parent / "reference"
    shutil.rmtree(reference, ignore_errors=True)
    with monkeypatch.context() as patch:
        patch.setenv("MLSPEC_INCREMENTAL", "0")
        result, _ = render_to(reference, jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics[:3]]
    return tree(reference)


def test_the_pool_streams_every_spec_and_writes_what_the_full_render_writes(
        project: Path, batches: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline, "_worker", _pid_worker)
    monkeypatch.setattr(sys.modules[__name__], "PIDS", [project.parent / "pids"])
    out = project.parent / "out"
    result, change = render_to(out, jobs=2)
    assert result.ok
    assert change is not None
    pids = set((project.parent / "pids").read_text().split())
    assert pids, "the pool path did not run"
    assert str(os.getpid()) not in pids, "the pool path did not run"
    assert len(batches) == len(SPECS) + 1  # one per spec as it came back, then project files and manifest
    assert tree(out) == _reference(project, monkeypatch)
    assert sorted(change.added) == sorted(tree(out))


def test_only_changed_files_are_staged_and_unchanged_ones_keep_their_mtime(
        project: Path, batches: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    out = project.parent / "out"
    render_to(out, jobs=1)
    before = {rel: (out / rel).stat().st_mtime_ns for rel in tree(out)}
    _write_spec(project, SPECS[1], description="edited")
    result, change = render_to(out, jobs=1)
    assert result.ok
    assert change is not None
    assert change.changed
    after = tree(out)
    assert after == _reference(project, monkeypatch)
    kept = [rel for rel in before if rel not in change.changed]
    assert kept
    assert all((out / rel).stat().st_mtime_ns == before[rel] for rel in kept)


@pytest.mark.parametrize("broken", [
    "apiVersion: mlspec/v1\nkind: Model\nmetadata: {name: zz}\n",  # invalid: found by check
    None,  # a second spec with the first one's name: every file collides (MLS502), found after staging
])
def test_a_spec_failing_after_others_were_staged_writes_nothing(
        project: Path, batches: list[list[str]], broken: str | None) -> None:
    out = project.parent / "out"
    render_to(out, jobs=1)
    before = tree(out)
    batches.clear()
    for index in SPECS:
        _write_spec(project, index, description="changed everywhere")
    text = broken if broken is not None else (project / "specs" / "model-0000.yaml").read_text()
    (project / "specs" / "zz-last.yaml").write_text(text)
    result, change = render_to(out, jobs=1)
    assert not result.ok
    assert change is None
    assert batches, "nothing was staged before the failure: the test does not test streaming"
    assert tree(out) == before  # no temporaries, no journal, nothing replaced
    assert not recover(out)


def test_a_failing_first_render_creates_no_directory(project: Path, batches: list[list[str]]) -> None:
    (project / "specs" / "zz-last.yaml").write_text("apiVersion: mlspec/v1\nkind: Model\nmetadata: {name: zz}\n")
    out = project.parent / "new" / "out"
    result, _ = render_to(out, jobs=1)
    assert not result.ok
    assert batches
    assert not (project.parent / "new").exists()


def _interrupted_at_the_third_batch(project: Path, monkeypatch: pytest.MonkeyPatch,
                                    interruption: type[BaseException]) -> tuple[Path, dict[str, bytes], int]:
    """Render, change every spec, render again until the third staged batch raises `interruption`: the
    output directory, its files before, and the batches handed over."""
    out = project.parent / "out"
    render_to(out, jobs=1)
    before = tree(out)
    for index in SPECS:
        _write_spec(project, index, description="changed everywhere")
    stage = writer.Staging.stage
    calls = [0]

    def interrupted_at_the_third(self: writer.Staging, files: Any, remove: Any = ()) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise interruption
        stage(self, files, remove)

    with monkeypatch.context() as patch:
        patch.setattr(writer.Staging, "stage", interrupted_at_the_third)
        with pytest.raises(interruption):
            render_to(out, jobs=1)
    return out, before, calls[0]


def test_a_kill_mid_staging_leaves_the_tree_and_the_next_run_recovers(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, before, _ = _interrupted_at_the_third_batch(project, monkeypatch, Killed)
    now = tree(out)
    assert {rel: now.get(rel) for rel in before} == before  # nothing visible changed
    assert ".mlspec/journal.staging.json" in now  # a kill cleans nothing up: two specs' temporaries wait
    assert any(".mlspec-new-" in rel for rel in now)
    assert recover(out)
    assert tree(out) == before
    result, _ = render_to(out, jobs=1)
    assert result.ok
    assert tree(out) == _reference(project, monkeypatch)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_mid_render_leaves_no_temporaries(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                 interruption: type[BaseException]) -> None:
    out, before, calls = _interrupted_at_the_third_batch(project, monkeypatch, interruption)
    assert calls == 3
    assert tree(out) == before  # the two specs staged before Ctrl-C are gone, and the journal with them
    assert not recover(out)


# --- the writer's staging session on its own ------------------------------------------------------------

OLD = {"a/one.yaml": b"one\n", "b/two.yaml": b"two\n", "c/three.yaml": b"three\n"}


class KillMidAppend(FileSystem):
    """Dies after writing half of the journal line it appends (the second batch's)."""

    def append(self, path: Path, data: bytes) -> None:
        super().append(path, data[: len(data) // 2])
        raise Killed


def test_a_kill_while_appending_a_batch_is_recovered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write_tree(out, OLD)
    read: list[bytes] = []

    def two_batches() -> None:
        with staging(out, KillMidAppend()) as session:
            session.stage({"a/one.yaml": b"ONE\n", "d/new/four.yaml": b"4\n"})
            read.extend(session.read(rel) for rel in ("d/new/four.yaml", "a/one.yaml", "b/two.yaml"))
            session.stage({"b/two.yaml": b"TWO\n"})

    with pytest.raises(Killed):
        two_batches()
    assert read == [b"4\n", b"ONE\n", b"two\n"]  # staged ones from their temporaries, others from the tree
    assert (out / ".mlspec" / "journal.staging.json").read_bytes().count(b"\n") == 1  # the torn second line
    assert recover(out)
    assert tree(out) == OLD  # the first batch's temporaries and directory are gone too


def test_a_refusal_in_a_later_batch_discards_the_earlier_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write_tree(out, OLD)
    with immutable(out / "c"):
        def two_batches() -> None:
            with staging(out) as session:
                session.stage({"a/one.yaml": b"ONE\n", "d/new/four.yaml": b"4\n"})
                session.stage({"c/three.yaml": b"THREE\n"})
                session.commit()

        with pytest.raises(EnvironmentFault) as caught:
            two_batches()
        assert caught.value.error.errno == errno.EPERM
        assert tree(out) == OLD
    assert not recover(out)


def test_batches_commit_together(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write_tree(out, {**OLD, "gone.yaml": b"x\n"})
    with staging(out) as session:
        session.stage({"a/one.yaml": b"ONE\n", "b/two.yaml": b"two\n"})
        session.stage({"a/one.yaml": b"again\n", "d/new/four.yaml": b"4\n"})  # a path given twice: the first wins
        session.stage({}, ["gone.yaml", "d/new/four.yaml"])  # staged paths are never removed
        assert {rel: data for rel, data in tree(out).items() if ".mlspec" not in rel} == {**OLD, "gone.yaml": b"x\n"}
        assert (session.added, session.changed, session.removed) == (["d/new/four.yaml"], ["a/one.yaml"],
                                                                    ["gone.yaml"])
        assert session.unchanged == {"b/two.yaml"}
        session.commit()
    assert tree(out) == {"a/one.yaml": b"ONE\n", "b/two.yaml": b"two\n", "c/three.yaml": b"three\n",
                         "d/new/four.yaml": b"4\n"}


@pytest.mark.parametrize("name", ["journal.json", "journal.rollback.json", "journal.done.json"])
def test_an_empty_journal_past_staging_is_damaged_and_kept(tmp_path: Path, name: str) -> None:
    # Only the staging journal can be empty after a crash; the others are renamed from a synced one.
    out = tmp_path / "out"
    writer.write_tree(out, OLD)
    journal = out / ".mlspec" / name
    journal.write_bytes(b"")
    with pytest.raises(EnvironmentFault, match="damaged"):
        recover(out)
    assert journal.is_file()


def test_a_staging_journal_unreadable_before_its_last_line_is_damaged_and_kept(tmp_path: Path) -> None:
    # A kill can only tear the last line; a bad line before it is damage from outside, and deleting the
    # journal would leave the temporaries and backups its other lines list in the tree for good.
    out = tmp_path / "out"
    writer.write_tree(out, OLD)

    def two_batches() -> None:
        with staging(out, KillMidAppend()) as session:
            session.stage({"a/one.yaml": b"ONE\n", "d/new/four.yaml": b"4\n"})
            session.stage({"b/two.yaml": b"TWO\n"})

    with pytest.raises(Killed):
        two_batches()
    journal = out / ".mlspec" / "journal.staging.json"
    journal.write_bytes(b"not json\n" + journal.read_bytes())
    with pytest.raises(EnvironmentFault, match="damaged"):
        recover(out)
    assert journal.is_file()
    assert any(".mlspec-new-" in rel for rel in tree(out))  # still listed, still there for a person to judge
