"""The parallel paths of compiler.pipeline (taken above PARALLEL_THRESHOLD specs, so never by the small
example set: a render's fork pool, a check's shares) give byte-identical output and the same diagnostics as
the serial path."""

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


def _sharing(monkeypatch: Any) -> list[tuple[int, int, int]]:
    """Records each call of compiler.forked.shared: (calls, processes, chunk)."""
    import compiler.forked

    calls: list[tuple[int, int, int]] = []
    real = compiler.forked.shared

    def recording(count: int, one: Any, processes: int, chunk: int) -> Any:
        calls.append((count, processes, chunk))
        return real(count, one, processes, chunk)

    monkeypatch.setattr(compiler.forked, "shared", recording)
    return calls


def test_a_shared_check_reports_the_same_diagnostics(tmp_path: Path, monkeypatch: Any) -> None:
    """Checks without a render (a lint) are shared out between this process and forked children
    (compiler.forked.shared; tests/test_forked_shared.py proves who computes what), with the diagnostics
    of the serial path, in the same order."""
    cases = tmp_path / "cases"
    cases.mkdir()
    for path in sorted(CORPUS.glob("*.yaml")):
        shutil.copy(path, cases / path.name)
    serial = run([cases], root=tmp_path, registry=_registry(tmp_path / "s"), jobs=1, keep_plans=False)
    shared = _sharing(monkeypatch)
    pool = run([cases], root=tmp_path, registry=_registry(tmp_path / "p"), jobs=2, keep_plans=False,
               parallel_threshold=2)
    assert len(serial.diagnostics) > 50
    assert [(count, processes) for count, processes, _ in shared] == [(len(pool.specs) - 1, 2)]
    assert [d.to_json() for d in pool.diagnostics] == [d.to_json() for d in serial.diagnostics]


def test_a_lint_shares_out_small_chunks(tmp_path: Path, monkeypatch: Any) -> None:
    """A lint's processes claim at most LINT_CHUNK specs at a time (not an eighth of them), so they finish
    together instead of one waiting out the other's last chunk."""
    import compiler.pipeline

    shared = _sharing(monkeypatch)
    monkeypatch.setattr(compiler.pipeline, "LINT_CHUNK", 1)
    root = _project(tmp_path, 4)
    assert len(list((root / "specs").iterdir())) // (2 * 4) > 1  # an eighth of the specs is more
    run([root / "specs"], root=root, jobs=2, keep_plans=False, parallel_threshold=2)
    assert [chunk for _, _, chunk in shared] == [1]


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
