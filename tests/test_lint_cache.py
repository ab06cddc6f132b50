"""Cached lint (compiler.output.lint_cache) reports exactly what a full lint reports, after any sequence of
edits: specs changed, broken, added, removed; mlspec.yaml changed; another current directory. And it
really checks only what changed, without importing the language when nothing did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.output.lint_cache import lint
from compiler.pipeline import run
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec

POOL = [0, 2, 3, 4]
PROJECTS = [
    "apiVersion: mlspec/v1\nkind: Project\n",
    "apiVersion: mlspec/v1\nkind: Project\ndefaults: {runbookBase: https://runbooks.example.com}\n",
    "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {engine: nope}\n",  # a settings error
]


def _write_spec(root: Path, index: int, description: str | None = None, broken: bool = False) -> None:
    spec = make_spec(index)
    if description is not None:
        spec["metadata"]["description"] = description
    if broken:
        spec["metadata"]["colour"] = "red"  # an unknown key: a schema error
    (root / "specs" / f"model-{index:04d}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=120))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text(PROJECTS[0])
    for index in POOL[:2]:
        _write_spec(root, index)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _check(paths: list[Path] | None = None) -> None:
    expected = run(paths, jobs=1, keep_plans=False)
    found = lint(paths, jobs=1)
    assert found.diagnostics == expected.diagnostics
    assert found.specs == len(expected.specs)
    again = lint(paths, jobs=1)  # straight from the cache
    assert again.checked == 0
    assert again.diagnostics == expected.diagnostics


EDITS = st.one_of(
    st.tuples(st.just("describe"), st.sampled_from(POOL), st.text("abc xyz", min_size=1, max_size=8)),
    st.tuples(st.just("break"), st.sampled_from(POOL), st.just("")),
    st.tuples(st.just("comment"), st.sampled_from(POOL), st.text("abc", max_size=5)),
    st.tuples(st.just("remove"), st.sampled_from(POOL), st.just("")),
    st.tuples(st.just("project"), st.sampled_from(range(len(PROJECTS))), st.just("")),
    st.tuples(st.just("cwd"), st.sampled_from([0, 1]), st.just("")),
    st.tuples(st.just("one"), st.sampled_from(POOL), st.just("")),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=5))
@example(edits=[("break", 0, ""), ("one", 0, ""), ("describe", 0, "fixed"), ("cwd", 1, ""), ("one", 0, "")])
@example(edits=[("project", 2, ""), ("comment", 2, "a"), ("project", 0, ""), ("remove", 2, "")])
def test_cached_lint_equals_full_lint_after_any_edits(project: Path, edits: list[tuple[str, int, str]]) -> None:
    os.chdir(project)
    (project / "mlspec.yaml").write_text(PROJECTS[0])
    for spec in (project / "specs").glob("*.yaml"):
        spec.unlink()
    for index in POOL[:2]:
        _write_spec(project, index)
    _check()
    for kind, which, text in edits:
        spec = project / "specs" / f"model-{which:04d}.yaml"
        paths = None
        if kind == "describe":
            _write_spec(project, which, description=f"edited: {text}")
        elif kind == "break":
            _write_spec(project, which, broken=True)
        elif kind == "comment":
            if not spec.exists():
                _write_spec(project, which)
            spec.write_text(f"# {text}\n" + spec.read_text())
        elif kind == "remove":
            if len(list((project / "specs").glob("*.yaml"))) > 1:
                spec.unlink(missing_ok=True)
        elif kind == "project":
            (project / "mlspec.yaml").write_text(PROJECTS[which])
        elif kind == "cwd":
            os.chdir(project / "specs" if which else project)
        else:  # lint one named spec (perhaps missing) with the whole project's cache
            paths = [spec.relative_to(project) if Path.cwd() == project else Path(spec.name)]
        _check(paths)


def test_only_changed_specs_are_checked(project: Path) -> None:
    assert lint(None, jobs=1).checked == 2
    _write_spec(project, POOL[0], description="changed")
    assert lint(None, jobs=1).checked == 1
    assert lint(None, jobs=1).checked == 0


def test_an_unchanged_lint_imports_neither_pydantic_nor_a_target(project: Path) -> None:
    code = ("import sys\nfrom compiler.cli import main\ntry:\n    main(['lint'])\nfinally:\n"
            "    print('IMPORTED', *sorted(m for m in ('pydantic', 'targets.kserve') if m in sys.modules))\n")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert first.stdout.strip() == "IMPORTED pydantic targets.kserve", first.stderr
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert again.stdout.strip() == "IMPORTED"
    assert (again.returncode, again.stderr) == (first.returncode, first.stderr)


def test_an_edited_target_invalidates_the_cache(project: Path, own_code: Path) -> None:
    assert lint(None, jobs=1).checked == 2
    assert lint(None, jobs=1).checked == 0
    stat = own_code.stat()
    os.utime(own_code, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert lint(None, jobs=1).checked == 2


def test_targets_chosen_by_the_caller_bypass_the_cache(project: Path, use_targets: object) -> None:
    from compiler.render.plugins import Registry

    lint(None, jobs=1)  # the installed targets' results, cached
    use_targets(Registry())  # type: ignore[operator]
    found = lint(None, jobs=1)
    assert found.checked == 2
    assert found.diagnostics == run(None, jobs=1, keep_plans=False).diagnostics


def test_a_pooled_lint_equals_a_serial_full_lint(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the pool threshold the first spec is checked before the workers fork (to warm what they
    inherit); the report is still every spec's, in order, as a serial lint gives it."""
    import compiler.pipeline

    for index in range(5, 11):
        _write_spec(project, index, broken=index % 3 == 0)
    expected = run(None, jobs=1, keep_plans=False)
    monkeypatch.setattr(compiler.pipeline, "PARALLEL_THRESHOLD", 3)
    found = lint(None, jobs=2)
    assert (found.diagnostics, found.specs, found.checked) == (expected.diagnostics, 8, 8)
    assert lint(None, jobs=2).checked == 0


@pytest.mark.parametrize("threshold", [200, 3])
def test_a_lint_checks_the_bytes_its_results_are_keyed_by(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                          threshold: int) -> None:
    """The checker (serial, or the pool's workers) checks the bytes the cache keys were computed from, not the
    file read again: a spec edited in between would leave its old diagnostics under the new key and stat."""
    import compiler.pipeline

    for index in range(5, 11):
        _write_spec(project, index, broken=index % 3 == 0)
    expected = run(None, jobs=1, keep_plans=False)

    def unread(path: object, file: str) -> tuple[bytes | None, None]:
        raise AssertionError(f"{file} was read again")

    monkeypatch.setattr(compiler.pipeline, "read_source", unread)
    monkeypatch.setattr(compiler.pipeline, "PARALLEL_THRESHOLD", threshold)
    found = lint(None, jobs=2)
    assert (found.diagnostics, found.specs, found.checked) == (expected.diagnostics, 8, 8)


def test_the_collector_runs_again_after_a_lint_that_started_without_it(project: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up runs with the collector off (compiler.output.lint_cache): a lint, and a lint that fails
    while starting, leave it on and nothing frozen, as they found it."""
    import gc

    import compiler.pipeline

    assert gc.isenabled()
    lint(None, jobs=1)
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)

    def broken(root: Path) -> None:
        raise RuntimeError("make_context failed")

    monkeypatch.setattr(compiler.pipeline, "make_context", broken)
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "0")
    with pytest.raises(RuntimeError):
        lint(None, jobs=1)
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)


def test_the_checks_run_with_the_young_generation_spaced_and_leave_it_as_it_was(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The specs are checked (in this process or in workers forked from it) with the collector's youngest
    generation collected every compiler.collector.SPACED allocations; the thresholds are restored
    after the lint, and after a check that fails."""
    import gc

    import compiler.pipeline
    from compiler.collector import SPACED

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    real = compiler.pipeline._run_all

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compiler.pipeline, "_run_all", recording)
    lint(None, jobs=1)
    assert seen == [(SPACED, *before[1:])]
    assert gc.get_threshold() == before

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a check failed")

    monkeypatch.setattr(compiler.pipeline, "_run_all", broken)
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "0")
    with pytest.raises(RuntimeError):
        lint(None, jobs=1)
    assert gc.get_threshold() == before
