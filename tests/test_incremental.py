"""Incremental rendering (compiler.output.incremental) writes exactly what a full render writes, byte for byte,
after any sequence of edits: specs changed, reformatted, added, removed; mlspec.yaml changed; output files
hand-edited, touched or deleted; the rollout state advanced. And it really skips the unchanged specs."""

from __future__ import annotations

import gc
import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Diagnostic
from compiler.ledger.state import load_states
from compiler.output import cache_index, incremental, sealed, stat_check
from compiler.output.incremental import render_incremental
from compiler.output.stamp import unchanged_render
from compiler.output.tree import render_to
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec

POOL = [0, 2, 3, 4]  # realtime, batch, streaming, edge
PROJECTS = [
    "apiVersion: mlspec/v1\nkind: Project\n",
    "apiVersion: mlspec/v1\nkind: Project\ndefaults: {runbookBase: https://runbooks.example.com}\n",
    "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {engine: flux}\n",
]


def _write_spec(root: Path, index: int, description: str | None = None, comment: str = "",
                staging: str = "staging", team: str | None = None) -> None:
    spec = make_spec(index)
    if description is not None:
        spec["metadata"]["description"] = description
    # The gitops target's per-model share (its apps, Argo CD Applications) and the teams' AppProjects change.
    environments = spec["serving"]["environments"]
    spec["serving"]["environments"] = {staging if name == "staging" else name: env
                                       for name, env in environments.items()}
    if team is not None:
        spec["metadata"]["team"] = team
    path = root / "specs" / f"model-{index:04d}.yaml"
    path.write_text(comment + yaml.safe_dump(spec, sort_keys=False, width=120))


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file() and ".git" not in p.parts}


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


def _render(out: Path, *, incremental: bool, jobs: int = 1) -> list[Diagnostic]:
    os.environ["MLSPEC_INCREMENTAL"] = "1" if incremental else "0"
    try:
        result, change = render_to(out, jobs=jobs)
    finally:
        del os.environ["MLSPEC_INCREMENTAL"]
    assert result.ok, result.diagnostics[:3]
    assert change is not None
    return result.diagnostics


def _check_equal(root: Path, out: Path, jobs: int = 1) -> None:
    reference = root.parent / "reference"
    shutil.rmtree(reference, ignore_errors=True)
    # The reference starts from the same rollout state (it lives in the tree) and nothing else.
    if (out / ".mlspec" / "rollout").is_dir():
        shutil.copytree(out / ".mlspec" / "rollout", reference / ".mlspec" / "rollout")
    expected = _render(reference, incremental=False)
    # The stat-only answer (compiler.output.stamp) may say "unchanged" only when the tree is already the full
    # render's and the report the same; right after a render it must say so.
    unchanged = unchanged_render(out)
    if unchanged is not None:
        assert _tree(out) == _tree(reference)
        assert unchanged.diagnostics == expected
    assert _render(out, incremental=True, jobs=jobs) == expected
    assert _tree(out) == _tree(reference)
    unchanged = unchanged_render(out)
    assert unchanged is not None
    assert unchanged.diagnostics == expected


EDITS = st.one_of(
    st.tuples(st.just("describe"), st.sampled_from(POOL), st.text("abc xyz", min_size=1, max_size=8)),
    st.tuples(st.just("comment"), st.sampled_from(POOL), st.text("abc", max_size=5)),
    st.tuples(st.just("remove"), st.sampled_from(POOL), st.just("")),
    st.tuples(st.just("environment"), st.sampled_from(POOL), st.sampled_from(["qa", "staging"])),
    st.tuples(st.just("team"), st.sampled_from(POOL), st.sampled_from(["risk-ml", "ops-ml"])),
    st.tuples(st.just("project"), st.sampled_from(range(len(PROJECTS))), st.just("")),
    st.tuples(st.just("rollout"), st.sampled_from([0, 3]), st.sampled_from(["canary-10", "canary-50", "full"])),
    st.tuples(st.just("hand-edit"), st.integers(0, 10_000), st.sampled_from(["append", "delete", "touch"])),
)


def _apply(root: Path, out: Path, edit: tuple[str, int, str]) -> None:
    kind, which, text = edit
    spec = root / "specs" / f"model-{which:04d}.yaml"
    if kind == "describe":
        _write_spec(root, which, description=f"edited: {text}")
    elif kind == "comment":
        if not spec.exists():
            _write_spec(root, which)
        spec.write_text(f"# {text}\n" + spec.read_text())
    elif kind == "environment":
        _write_spec(root, which, staging=text)
    elif kind == "team":
        _write_spec(root, which, team=text)
    elif kind == "remove":
        if len(list((root / "specs").glob("*.yaml"))) > 1:
            spec.unlink(missing_ok=True)
    elif kind == "rollout":  # what `mlspec rollout advance` records in the tree
        version = make_spec(which)["model"]["version"]
        state = {"schema": "mlspec.dev/rollout-state/v1", "model": f"model-{which:04d}", "environments": {
            "production": {"version": version, "stage": text, "since": "2026-11-29T18:00:00Z", "history": []}}}
        (out / ".mlspec" / "rollout").mkdir(parents=True, exist_ok=True)
        (out / ".mlspec" / "rollout" / f"model-{which:04d}.json").write_text(json.dumps(state))
    elif kind == "project":
        (root / "mlspec.yaml").write_text(PROJECTS[which])
    else:
        files = sorted(p for p in out.rglob("*") if p.is_file() and ".mlspec" not in p.parts)
        _hand_edit(files[which % len(files)], text)


def _hand_edit(victim: Path, how: str) -> None:
    """A rendered file edited by hand (`append`), deleted, or only touched."""
    if how == "append":
        victim.write_bytes(victim.read_bytes() + b"# hand edit\n")
    elif how == "delete":
        victim.unlink()
    else:
        os.utime(victim, ns=(1, 1))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=4))
# Every kind of edit at least once, whatever hypothesis draws.
@example(edits=[("hand-edit", 5, "append"), ("hand-edit", 7, "delete"), ("hand-edit", 9, "touch")])
@example(edits=[("rollout", 0, "canary-50"), ("rollout", 0, "full")])
@example(edits=[("comment", 0, "a"), ("describe", 2, "x"), ("project", 2, ""), ("remove", 0, "")])
# A model's gitops files change, a team's AppProject gains a model, a spec and its apps go away.
@example(edits=[("environment", 0, "qa"), ("team", 2, "risk-ml"), ("remove", 2, ""), ("environment", 0, "staging")])
def test_incremental_equals_full_render_after_any_edits(project: Path, edits: list[tuple[str, int, str]]) -> None:
    out = project.parent / "out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(project.parent / "cache", ignore_errors=True)
    (project / "mlspec.yaml").write_text(PROJECTS[0])
    for spec in (project / "specs").glob("*.yaml"):
        spec.unlink()
    for index in POOL[:2]:
        _write_spec(project, index)
    _check_equal(project, out)
    for edit in edits:
        _apply(project, out, edit)
        _check_equal(project, out)


def test_unchanged_specs_are_not_rendered_again(project: Path) -> None:
    out = project.parent / "out"
    _render(out, incremental=True)
    states = load_states(out)
    assert render_incremental(out, jobs=1, rollout_state=states).rendered_specs == 0
    _write_spec(project, POOL[0], description="changed")
    done = render_incremental(out, jobs=1, rollout_state=states)
    assert done.rendered_specs == 1
    assert done.reused > 0


def test_a_comment_edited_leaves_the_project_files_unbuilt(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project-wide files depend on the plans' digests (the specs' data), not on the specs' bytes: a
    comment added builds none of them again, reads no cached plan, and the tree is still a full render's."""
    out = project.parent / "out"
    _render(out, incremental=True)
    spec = project / "specs" / f"model-{POOL[0]:04d}.yaml"

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the project-wide files were built again")

    with monkeypatch.context() as patched:
        patched.setattr(incremental, "_render_project", refuse)
        patched.setattr(incremental.cache_index, "load_plans", refuse)
        patched.setattr(incremental.cache_index, "load_cold", refuse)
        spec.write_text("# a comment\n" + spec.read_text())  # its diagnostics' lines move, its data does not
        done = render_incremental(out, jobs=1, rollout_state=load_states(out))
        assert done.rendered_specs == 1
    _check_equal(project, out)
    _write_spec(project, POOL[0], staging="qa")  # the data, the gitops share: the files are built again
    built: list[object] = []
    real = incremental._render_project
    monkeypatch.setattr(incremental, "_render_project", lambda *a, **k: built.append(a) or real(*a, **k))
    _check_equal(project, out)
    assert built


def test_a_plan_changed_but_not_its_shares_leaves_the_project_files_unbuilt(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every target builds the project-wide files from the specs' shares, reading no plan and no file: a
    description edited changes the plan, not the shares, so they are not built again; a new environment
    (the gitops share) builds them again. Both give what a full render gives."""
    out = project.parent / "out"
    _render(out, incremental=True)
    built: list[object] = []
    real = incremental._render_project
    monkeypatch.setattr(incremental, "_render_project", lambda *a, **k: built.append(a) or real(*a, **k))
    _write_spec(project, POOL[0], description="edited")
    _check_equal(project, out)
    assert not built
    _write_spec(project, POOL[0], description="edited", staging="qa")
    _check_equal(project, out)
    assert built


def test_the_project_files_read_from_a_file_are_built_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that read a file's bytes (or a plan) depends on more than the shares: not keyed by them."""
    from compiler.output.tree_files import TreeFiles

    out = project.parent / "out"
    real = incremental._render_project

    def reading(result: object, tree: TreeFiles, lazy: object) -> None:
        tree[next(iter(tree))]  # what a target reading the tree does
        real(result, tree, lazy)  # type: ignore[arg-type]

    monkeypatch.setattr(incremental, "_render_project", reading)
    _render(out, incremental=True)
    built: list[object] = []
    monkeypatch.setattr(incremental, "_render_project", lambda *a, **k: built.append(a) or reading(*a, **k))
    _write_spec(project, POOL[0], description="edited")
    _check_equal(project, out)
    assert built


def test_a_spec_file_as_it_was_is_not_read_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec file whose stat is the one taken before its key was computed keeps its key unread (the stat
    trust of the render stamp); a touched one is read and hashed again (the same key: reused), once."""
    out = project.parent / "out"
    _render(out, incremental=True)
    read: list[str] = []
    real = Path.read_bytes

    def spy(path: Path) -> bytes:
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", spy)
    names = [f"model-{index:04d}.yaml" for index in POOL[:2]]
    done = render_incremental(out, jobs=1, rollout_state=load_states(out))
    assert done.rendered_specs == 0
    assert not set(read) & set(names)
    os.utime(project / "specs" / names[1], ns=(1, 1))
    _render(out, incremental=True)
    assert names[1] in read
    assert names[0] not in read
    read.clear()
    done = render_incremental(out, jobs=1, rollout_state=load_states(out))
    assert done.rendered_specs == 0
    assert not set(read) & set(names)
    _write_spec(project, POOL[0], description="changed")
    _check_equal(project, out)


def test_an_edited_target_invalidates_the_cache(project: Path, own_code: Path) -> None:
    """Editable installs keep their version number: the cache keys on the code's files, not the version."""
    from compiler.output import cache_keys
    from compiler.pipeline import prepare

    out = project.parent / "out"
    context, _, _ = prepare(None)
    before = cache_keys.context_key(context, out)
    stat = own_code.stat()
    os.utime(own_code, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache_keys.context_key(context, out) != before


def test_a_lost_plans_file_means_rendering_everything_again(project: Path) -> None:
    out = project.parent / "out"
    _render(out, incremental=True)
    for plans in (project.parent / "cache").glob("*.plans.pickle"):
        plans.unlink()
    _write_spec(project, POOL[1], description="changed")
    _check_equal(project, out)


def test_cached_plans_round_trip_exactly(project: Path) -> None:
    """Plans are pickled as constructor calls (fast to load); they must come back equal, every field."""
    import pickle

    from compiler.output.cache_index import PLAN_TABLE, pickle_plan, plan_classes
    from compiler.pipeline import run

    PLAN_TABLE.update(plan_classes())
    plans = [s.plan for s in run(render=False).specs if s.plan is not None]
    assert plans
    for plan in plans:
        assert pickle.loads(pickle_plan(plan)) == plan


def test_the_cache_index_round_trips_exactly(project: Path) -> None:
    """The index is pickled with constructor calls for its dataclasses (compiler.output.cache_index._dump);
    what comes back is what went in: every spec's result, diagnostics and project-wide shares."""

    out = project.parent / "out"
    _render(out, incremental=True)
    _write_spec(project, POOL[0], description="changed")
    _render(out, incremental=True)
    [path] = _head(project)
    _, index = pickle.loads(sealed.unseal(path.read_bytes()))
    assert index.shards
    assert not index.specs  # the specs live in the shards
    for number, token in index.shards.items():
        shard = cache_index.shard_path(path, number)
        _, found, specs, _ = pickle.loads(sealed.unseal(shard.read_bytes()))
        assert found == token
        assert all(cache_index.whole_result(entry).parts.keys() >= {"gitops", "ci"} for entry in specs.values())
        assert not any(entry.result.parts or entry.result.file_targets for entry in specs.values())  # apart
        assert all(entry.texts.keys() == entry.result.reused.keys() and entry.spec_text for entry in specs.values())
        index.specs.update(specs)
    assert index.specs
    assert any(entry.result.diagnostics for entry in index.specs.values())
    copy = path.with_name("copy.pickle")
    cache_index._dump(copy, (0, index))
    assert pickle.loads(sealed.unseal(copy.read_bytes())) == (0, index)
    assert pickle.loads(sealed.unseal(copy.read_bytes())) == pickle.loads(pickle.dumps((0, index)))


def _head(project: Path) -> list[Path]:
    return [p for p in (project.parent / "cache").glob("render-*.pickle") if p.suffixes == [".pickle"]]


def _loaded_head(project: Path) -> tuple[Path, cache_index.Index]:
    """The render cache's head file and what it loads as (under the context key it was written with)."""
    [path] = _head(project)
    return path, cache_index.load(path, pickle.loads(sealed.unseal(path.read_bytes()))[1].context)


def _shards(project: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((project.parent / "cache").glob("render-*.s[0-9][0-9].pickle"))}


def test_a_save_after_one_change_rewrites_only_that_specs_shard(project: Path) -> None:
    """compiler.output.cache_index keeps the specs in shards: the others are not pickled again."""

    for index in POOL[2:]:
        _write_spec(project, index)
    out = project.parent / "out"
    _render(out, incremental=True)
    before = _shards(project)
    assert len(before) > 1  # four specs over 32 shards: at least two
    rel = f"specs/model-{POOL[0]:04d}.yaml"
    _write_spec(project, POOL[0], description="changed")
    _render(out, incremental=True)
    after = _shards(project)
    [head] = _head(project)
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == {cache_index.shard_path(head, cache_index._shard_of(rel))}
    _check_equal(project, out)


def _damage(shard: Path, before: bytes, how: str) -> None:
    """Cut `shard` short, put back the one from the save before (`before`: well-formed, but not this
    head's), or delete it."""
    if how == "torn":
        data = shard.read_bytes()
        shard.write_bytes(data[: len(data) // 2])
    elif how == "foreign":
        shard.write_bytes(before)
    else:
        shard.unlink()


@pytest.mark.parametrize("damage", ["torn", "foreign", "missing"])
def test_a_damaged_shard_means_a_full_render(project: Path, damage: str) -> None:
    """A shard cut short, left from another save, or gone: every spec renders again, and the tree is a full
    render's, never one missing or mixing a spec's entries."""
    for index in POOL[2:]:
        _write_spec(project, index)
    out = project.parent / "out"
    _render(out, incremental=True)
    old = _shards(project)
    _write_spec(project, POOL[0], description="changed")
    _render(out, incremental=True)
    new = _shards(project)
    [victim] = [p for p in new if old.get(p) != new[p]]
    _damage(victim, old[victim], damage)
    _write_spec(project, POOL[1], description="changed too")
    done = render_incremental(out, jobs=1, rollout_state=load_states(out))
    assert done.rendered_specs == len(list((project / "specs").glob("*.yaml")))
    _check_equal(project, out)


def _project_shard(project: Path) -> Path:
    [found] = (project.parent / "cache").glob("render-*.project.pickle")
    return found


def test_the_project_files_shard_is_rewritten_only_when_they_change(project: Path) -> None:
    """compiler.output.cache_index keeps the project-wide files apart from the head: a render that did not
    build them again (a comment edited) leaves their shard as it was; one that did rewrites it."""
    out = project.parent / "out"
    _render(out, incremental=True)
    before = _project_shard(project).read_bytes()
    spec = project / "specs" / f"model-{POOL[0]:04d}.yaml"
    spec.write_text("# a comment\n" + spec.read_text())
    _render(out, incremental=True)
    assert _project_shard(project).read_bytes() == before
    _check_equal(project, out)
    _write_spec(project, POOL[0], staging="qa")  # a model's apps changed: they are built again
    _render(out, incremental=True)
    assert _project_shard(project).read_bytes() != before
    _check_equal(project, out)


@pytest.mark.parametrize("damage", ["torn", "foreign", "missing"])
def test_a_damaged_project_shard_means_a_full_render(project: Path, damage: str) -> None:
    out = project.parent / "out"
    _render(out, incremental=True)
    old = _project_shard(project).read_bytes()
    _write_spec(project, POOL[0], staging="qa")
    _render(out, incremental=True)
    victim = _project_shard(project)
    assert victim.read_bytes() != old
    _damage(victim, old, damage)
    _write_spec(project, POOL[1], description="changed")
    done = render_incremental(out, jobs=1, rollout_state=load_states(out))
    assert done.rendered_specs == len(list((project / "specs").glob("*.yaml")))
    _check_equal(project, out)


def test_a_render_after_one_change_does_not_parse_the_old_manifest(project: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The index knows what the manifest it wrote lists; only a manifest it did not write is parsed."""
    from compiler.output import incremental

    out = project.parent / "out"
    _render(out, incremental=True)
    (project / "specs" / f"model-{POOL[1]:04d}.yaml").unlink()

    def refuse(_: Path) -> None:
        raise AssertionError("the previous manifest was parsed")

    with monkeypatch.context() as patched:
        patched.setattr(incremental, "load_manifest", refuse)
        _render(out, incremental=True)
    _check_equal(project, out)
    manifest = out / ".mlspec" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"\n}\n", b"\n}\n\n"))  # not the one the index wrote
    _write_spec(project, POOL[1])
    _check_equal(project, out)


def test_the_cycle_collector_is_left_as_it_was(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """render_incremental pauses it (compiler.collector); a failure must not leave it off. While
    specs render, what was alive before (the loaded cache) is frozen, out of the collector's passes, and it
    stays frozen, with the collector off, through the run's bookkeeping (the stamp), where a full pass over
    it cost 0.2 s; after the render, failed or not, nothing is and the collector is on."""
    from compiler.output import stamp

    out = project.parent / "out"
    _render(out, incremental=True)
    assert gc.isenabled()
    seen: list[tuple[str, bool, bool]] = []
    real_run, real_record = incremental._run_all, stamp.record_render

    def failing(*args: object, **kwargs: object) -> object:
        # on while specs render; the modules and the loaded cache frozen
        seen.append(("render", gc.isenabled(), gc.get_freeze_count() > 1000))
        raise RuntimeError("boom")

    def recording(*args: object, **kwargs: object) -> None:
        seen.append(("stamp", gc.isenabled(), gc.get_freeze_count() > 1000))
        real_record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(incremental, "_run_all", failing)
    _write_spec(project, 0, description="changed")
    with pytest.raises(RuntimeError):
        _render(out, incremental=True)
    assert seen == [("render", True, True)]
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)
    monkeypatch.setattr(incremental, "_run_all", real_run)
    monkeypatch.setattr(stamp, "record_render", recording)
    _render(out, incremental=True)
    assert seen[1:] == [("stamp", False, True)]
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)
    gc.disable()
    try:
        _write_spec(project, 0, description="changed again")
        _render(out, incremental=True)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_specs_render_with_the_youngest_generation_spaced(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a lint's pool: collected every SPACED allocations while specs render, as it was afterwards."""
    from compiler.collector import SPACED

    out = project.parent / "out"
    before = gc.get_threshold()
    seen: list[int] = []
    real = incremental._run_all

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold()[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(incremental, "_run_all", recording)
    render_incremental(out, jobs=1)
    assert seen == [SPACED]
    assert gc.get_threshold() == before


@pytest.mark.parametrize("how", ["append", "delete", "touch"])
def test_output_files_checked_beside_the_render_are_restored_like_any(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       how: str) -> None:
    """With many output files their stats are checked in a child process while the changed specs render
    (compiler.output.stat_check): a hand edit to an unchanged spec's file in the same run is still found and
    the file restored; a file only touched keeps its spec reused."""
    out = project.parent / "out"
    _check_equal(project, out)
    answers: list[set[str]] = []
    check = stat_check.start

    def noted(*args: object) -> object:
        wait = check(*args)  # type: ignore[arg-type]

        def answer() -> set[str]:
            answers.append(wait())
            return answers[-1]
        return answer

    monkeypatch.setattr(stat_check, "THRESHOLD", 0)
    monkeypatch.setattr(stat_check, "start", noted)
    _hand_edit(next(p for p in sorted((out / "models" / f"model-{POOL[1]:04d}").rglob("*.yaml"))), how)
    _write_spec(project, POOL[0], description="changed beside it")
    _check_equal(project, out)
    assert answers[0] == {f"specs/model-{POOL[1]:04d}.yaml"}  # the child found the one spec, by stat


@pytest.mark.parametrize("child", ["renders", "dies"])
def test_a_few_changed_specs_render_in_a_child_while_the_cache_loads(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     child: str) -> None:
    """With cores to spare, the changed specs render in a forked child while this process loads the cache's
    shards and checks the unchanged specs' files by stat (compiler.output.forked_render); a hand edit to an
    unchanged spec's file in the same run is still found. When the child fails, this process renders them:
    the tree is the full render's either way."""
    from compiler.output import forked_render

    out = project.parent / "out"
    _check_equal(project, out)
    parent = os.getpid()
    renders = project.parent / "renders"
    real = forked_render._run_all

    def noted(*args: object, **kwargs: object) -> object:
        with renders.open("a") as log:
            log.write(f"{os.getpid() != parent}\n")
        if child == "dies" and os.getpid() != parent:
            os._exit(3)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(forked_render, "_run_all", noted)
    _hand_edit(next(p for p in sorted((out / "models" / f"model-{POOL[1]:04d}").rglob("*.yaml"))), "append")
    _write_spec(project, POOL[0], description="changed in a child")
    _check_equal(project, out, jobs=2)
    assert renders.read_text().split() == (["True"] if child == "renders" else ["True", "False"])


def test_the_shards_must_hold_the_specs_the_head_lists(project: Path) -> None:
    """Which specs changed is decided from the head (cache_index.Head) before the shards load: shards that
    do not hold exactly those specs, as the head has them, are no cache at all."""

    out = project.parent / "out"
    _render(out, incremental=True)
    path, head = _loaded_head(project)
    assert head.heads
    assert not head.specs
    loaded = cache_index.load_specs(path, head)
    assert loaded.specs.keys() == loaded.heads.keys()
    assert loaded.project_files
    for change in ("key", "missing"):
        path, head = _loaded_head(project)
        rel = next(iter(head.heads))
        if change == "key":
            head.heads[rel] = head.heads[rel]._replace(key="another key")
        else:
            del head.heads[rel]
        assert not cache_index.load_specs(path, head).specs


def test_the_manifest_is_known_by_its_stat_and_never_hashed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest (12 MB for 1,000 models) is recognised as the one last written by its stat: a render
    after a change hashes none of it. A touched manifest is not recognised: it is read and built again
    (same bytes, so not rewritten), its new stat recorded, and the tree stays the full render's."""
    import hashlib

    out = project.parent / "out"
    _check_equal(project, out)
    manifest = out / ".mlspec" / "manifest.json"
    hashed: list[int] = []
    real = hashlib.sha256

    def noted(data: bytes = b"", **kwargs: object) -> object:
        hashed.append(len(data))
        return real(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(incremental.hashlib, "sha256", noted)
    _write_spec(project, POOL[0], description="changed again")
    _render(out, incremental=True)
    assert hashed
    assert manifest.stat().st_size not in hashed
    os.utime(manifest, ns=(1, 1))
    _check_equal(project, out)
    assert manifest.stat().st_mtime_ns == 1  # the same bytes: left as it was
    path, head = _loaded_head(project)
    assert incremental._manifest_ours(out, cache_index.load_specs(path, head))
