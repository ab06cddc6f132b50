"""The fork-pool path of compiler.pipeline (taken above PARALLEL_THRESHOLD specs, so never by the small
example set) gives byte-identical output and the same diagnostics as the serial path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from compiler.pipeline import RunResult, run
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Target, discover
from golden import REPO, SPECS

CORPUS = REPO / "tests" / "invalid"


class PidTarget(Target):
    """Renders nothing; notes which process checked each plan, to prove the pool really ran."""

    name = "pid-probe"
    description = "records the checking process"
    seen: Path

    def check(self, plan: Plan, settings: Any) -> Iterable[Any]:
        with self.seen.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return ()

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        return ()


def _registry(seen: Path) -> Any:
    registry = discover()
    probe = PidTarget()
    probe.seen = seen
    registry.add(probe)
    return registry


def _project(tmp_path: Path, copies: int) -> Path:
    """A spec repository with `copies` renamed copies of every example (distinct models)."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for spec in sorted(SPECS.glob("*.yaml")):
        name = spec.stem
        text = spec.read_text()
        for i in range(copies):
            new = f"{name}-{i}" if i else name
            (root / "specs" / f"{new}.yaml").write_text(text.replace(f"name: {name}\n", f"name: {new}\n", 1))
    return root


def _files(result: RunResult) -> dict[str, bytes]:
    return dict(sorted(result.files().items()))


def test_the_pool_renders_byte_identical_output(tmp_path: Path) -> None:
    root = _project(tmp_path, 3)
    serial_seen, pool_seen = tmp_path / "serial.pids", tmp_path / "pool.pids"
    serial = run([root / "specs"], root=root, render=True, registry=_registry(serial_seen), jobs=1)
    pool = run([root / "specs"], root=root, render=True, registry=_registry(pool_seen), jobs=2,
               parallel_threshold=2)
    assert serial.ok, [d.to_text() for d in serial.diagnostics]
    assert len(serial.specs) >= 15
    checkers = pool_seen.read_text().split()  # the first spec here, before the pool forks; the rest there
    assert checkers[0] == str(os.getpid())
    assert str(os.getpid()) not in checkers[1:], "the pool path did not run"
    assert set(serial_seen.read_text().split()) == {str(os.getpid())}
    assert _files(pool) == _files(serial)
    assert [d.to_text() for d in pool.diagnostics] == [d.to_text() for d in serial.diagnostics]
    # The shares of the project-wide files (Target.project_part) come back from the workers, equal.
    assert [s.parts for s in pool.specs] == [s.parts for s in serial.specs]
    assert all(s.parts.keys() >= {"gitops", "ci"} for s in pool.specs)


def test_the_pool_reports_the_same_diagnostics(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    for path in sorted(CORPUS.glob("*.yaml")):
        shutil.copy(path, cases / path.name)
    seen = tmp_path / "pids"
    serial = run([cases], root=tmp_path, registry=_registry(tmp_path / "s"), jobs=1, keep_plans=False)
    pool = run([cases], root=tmp_path, registry=_registry(seen), jobs=2, keep_plans=False, parallel_threshold=2)
    assert len(serial.diagnostics) > 50
    checkers = seen.read_text().split()  # the first spec here (if it reaches the checks), the rest there
    assert str(os.getpid()) not in checkers[1:], "the pool path did not run"
    assert [d.to_json() for d in pool.diagnostics] == [d.to_json() for d in serial.diagnostics]


def test_a_lint_hands_the_workers_small_chunks(tmp_path: Path, monkeypatch: Any) -> None:
    """A lint's chunks are at most LINT_CHUNK specs (not an eighth of them), so the two workers finish
    together instead of one waiting out the other's last chunk."""
    import multiprocessing.pool

    import compiler.pipeline

    chunks: list[int] = []
    real = multiprocessing.pool.Pool.imap

    def recording(self: Any, func: Any, iterable: Any, chunksize: int = 1) -> Any:
        chunks.append(chunksize)
        return real(self, func, iterable, chunksize)

    monkeypatch.setattr(multiprocessing.pool.Pool, "imap", recording)
    monkeypatch.setattr(compiler.pipeline, "LINT_CHUNK", 1)
    root = _project(tmp_path, 4)
    assert len(list((root / "specs").iterdir())) // (2 * 4) > 1  # an eighth of the specs is more
    run([root / "specs"], root=root, jobs=2, keep_plans=False, parallel_threshold=2)
    assert chunks == [1]


class GcTarget(PidTarget):
    """Notes, in the process that checks each plan, whether the cycle collector is on."""

    name = "gc-probe"

    def check(self, plan: Plan, settings: Any) -> Iterable[Any]:
        import gc

        with self.seen.open("a") as fh:
            fh.write(f"{os.getpid()}:{gc.isenabled()}\n")
        return ()


def test_the_parent_runs_no_collector_while_results_arrive(tmp_path: Path) -> None:
    """The pool's workers fork with the collector as it was (their target code may make cycles); the parent
    only receives results, and runs without it meanwhile (its full passes over the results and a loaded
    cache cost ~0.2 s each in a first render). It is back on afterwards."""
    import gc

    from compiler.pipeline import _run_all, prepare

    root = _project(tmp_path, 2)
    registry = discover()
    probe = GcTarget()
    probe.seen = tmp_path / "workers"
    registry.add(probe)
    context, work, _ = prepare([root / "specs"], root=root, registry=registry)
    arrived: list[bool] = []

    class Noting:
        def rendered(self, result: Any) -> None:
            pass

        def __call__(self, result: Any) -> None:
            arrived.append(gc.isenabled())

    assert gc.isenabled()
    results = _run_all(work, context, True, 2, parallel_threshold=2, sink=Noting())
    assert len(results) == len(work) == len(arrived)
    assert not any(arrived[1:])  # the first spec's result comes from here, before the pool forks
    assert gc.isenabled()
    workers = [line.split(":") for line in probe.seen.read_text().split()[1:]]
    assert {pid for pid, _ in workers}.isdisjoint({str(os.getpid())})
    assert {enabled for _, enabled in workers} == {"True"}


def test_a_lint_hashes_no_plan_and_hands_none_out(tmp_path: Path, monkeypatch: Any) -> None:
    """A lint that keeps no plans (keep_plans=False, serial or pooled) builds them without digests (the
    spec's canonical JSON is never hashed) and hands none back; a run that keeps them has their digests."""
    import compiler.planning.plan

    root = _project(tmp_path, 1)
    kept = run([root / "specs"], root=root, jobs=1)
    assert kept.specs
    assert all(s.plan is not None and s.plan.digest and s.plan.provenance.spec_digest for s in kept.specs)

    def refused(value: Any) -> str:
        raise AssertionError("a lint hashed a plan it drops")

    monkeypatch.setattr(compiler.planning.plan, "canonical_json", refused)
    for jobs, threshold in ((1, 200), (2, 2)):
        linted = run([root / "specs"], root=root, jobs=jobs, keep_plans=False, parallel_threshold=threshold)
        assert [d.to_json() for d in linted.diagnostics] == [d.to_json() for d in kept.diagnostics]
        assert all(s.plan is None for s in linted.specs)
