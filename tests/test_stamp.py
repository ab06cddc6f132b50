"""The stat-only answer of an unchanged render (compiler.output.stamp): the same report as the normal path, and
it really skips the heavy imports; any change to an input sends the run down the normal path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compiler.output import sealed, stamp
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec


def _spec(root: Path, index: int, description: str | None = None) -> Path:
    spec = make_spec(index)
    if description is not None:
        spec["metadata"]["description"] = description
    path = root / "specs" / f"model-{index:04d}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=120))
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for index in (0, 2):  # a realtime model (it has a lint warning) and a batch one
        _spec(root, index)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, reporting whether the language (pydantic) or a target was imported."""
    code = ("import sys\nfrom compiler.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
            "    heavy = sorted(m for m in ('pydantic', 'compiler.pipeline', 'targets.kserve') if m in sys.modules)\n"
            "    print('IMPORTED', *heavy)\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def _without_stamp(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    for found in (tmp / "cache").glob("*.stamp"):
        found.unlink()
    return _cli(*args)


def test_an_unchanged_render_reports_from_the_stamp_without_importing_the_language(project: Path) -> None:
    first = _cli("render", "--out", "../out")
    assert first.returncode == 0, first.stderr
    assert "IMPORTED compiler.pipeline pydantic targets.kserve" in first.stdout
    again = _cli("render", "--out", "../out")
    assert again.stdout.strip() == "IMPORTED"
    assert again.returncode == 0
    assert "warning" in again.stderr  # the recorded diagnostics are reported again
    normal = _without_stamp(project.parent, "render", "--out", "../out")
    assert "pydantic" in normal.stdout
    assert (again.returncode, again.stderr) == (normal.returncode, normal.stderr)


@pytest.mark.parametrize("args", [["--format", "json"], ["--check"], ["--format", "github", "--check"]])
def test_the_stamp_answers_exactly_like_the_normal_path(project: Path, args: list[str]) -> None:
    assert _cli("render", "--out", "../out").returncode == 0
    _cli("render", "--out", "../out", *args)  # a --check that finds the tree current stamps it too
    fast = _cli("render", "--out", "../out", *args)
    assert fast.stdout.splitlines()[-1] == "IMPORTED"
    normal = _without_stamp(project.parent, "render", "--out", "../out", *args)
    assert "pydantic" in normal.stdout.splitlines()[-1]
    assert (fast.returncode, fast.stdout, fast.stderr) == (normal.returncode, normal.stdout.replace(
        normal.stdout.splitlines()[-1], "IMPORTED"), normal.stderr)


def _edit_spec(project: Path, out: Path) -> None:
    _spec(project, 0, description="edited")


def _touch_spec(project: Path, out: Path) -> None:
    path = project / "specs" / "model-0000.yaml"
    os.utime(path, ns=(1, 1))


def _add_spec(project: Path, out: Path) -> None:
    _spec(project, 3)


def _remove_spec(project: Path, out: Path) -> None:
    (project / "specs" / "model-0002.yaml").unlink()


def _edit_project(project: Path, out: Path) -> None:
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {engine: flux}\n")


def _edit_output(project: Path, out: Path) -> None:
    victim = sorted(p for p in out.rglob("*.yaml") if p.is_file())[0]
    victim.write_bytes(victim.read_bytes() + b"# hand edit\n")


def _delete_output(project: Path, out: Path) -> None:
    sorted(p for p in out.rglob("*.yaml") if p.is_file())[-1].unlink()


def _rollout_state(project: Path, out: Path) -> None:
    (out / ".mlspec" / "rollout").mkdir(parents=True, exist_ok=True)
    (out / ".mlspec" / "rollout" / "model-0000.json").write_text("{}")


def _journal(project: Path, out: Path) -> None:
    (out / ".mlspec" / "journal.staging.json").write_text("{}")


def _edit_code(project: Path, out: Path) -> None:
    source = Path(sys.modules["mlspec_own_code"].__file__ or "")  # the own_code fixture's (tests/conftest.py)
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _other_directory(project: Path, out: Path) -> None:
    os.chdir(project / "specs")  # diagnostics name files relative to the current directory


@pytest.mark.parametrize("change", [_edit_spec, _touch_spec, _add_spec, _remove_spec, _edit_project, _edit_output,
                                    _delete_output, _rollout_state, _journal, _edit_code, _other_directory])
def test_any_change_to_an_input_means_the_normal_path(project: Path, change: object, own_code: Path) -> None:
    from compiler.output.tree import render_to

    out = project.parent / "out"
    result, _ = render_to(out, jobs=1)
    assert result.ok
    assert stamp.unchanged_render(out) is not None
    change(project, out)  # type: ignore[operator]
    assert stamp.unchanged_render(out) is None


def test_no_stamp_while_an_input_changes_during_the_render(project: Path) -> None:
    from compiler.output.manifest import load_manifest
    from compiler.output.tree import render_to

    out = project.parent / "out"
    assert render_to(out, jobs=1)[0].ok
    path = stamp.render_stamp_path(project, out)
    path.unlink()
    manifest = load_manifest(out)
    assert manifest is not None
    before = stamp.inputs(project, out)
    stamp.record_render(path, before, out, ([], []), manifest.files, [], 2)
    assert stamp.load_render(path) is not None  # recorded when nothing moved
    path.unlink()
    _spec(project, 0, description="edited while rendering")
    stamp.record_render(path, before, out, ([], []), manifest.files, [], 2)
    assert stamp.load_render(path) is None


def test_the_outputs_stats_are_stored_packed_and_come_back_exactly(project: Path) -> None:
    """Every output's stat is stored as two strings (stamp.packed): what unpacks is what was recorded, in
    order, and the stamp reports as many unchanged files. A number beyond 64 bits (an inode on some file
    systems) cannot be packed: no stamp then, the normal path answers."""
    from compiler.output.manifest import load_manifest
    from compiler.output.tree import render_to

    outputs = [("a.yaml", (0, -5, 2**63 - 1)), ("b/c.yaml", (10, 1_732_950_000_123_456_789, 42))]
    assert list(stamp.unpacked(stamp.packed(outputs))) == outputs
    assert list(stamp.unpacked(stamp.packed([]))) == []
    with pytest.raises(OverflowError):
        stamp.packed([("a.yaml", (0, 0, 2**64 - 1))])
    out = project.parent / "out"
    assert render_to(out, jobs=1)[0].ok
    path = stamp.render_stamp_path(project, out)
    loaded = stamp.load_render(path)
    manifest = load_manifest(out)
    assert loaded is not None
    assert manifest is not None
    recorded = dict(stamp.unpacked(loaded.outputs))
    assert recorded.keys() == {*manifest.files, ".mlspec/manifest.json"}
    assert all(recorded[rel] == stamp.stat_of(str(out / rel)) for rel in recorded)
    assert loaded.unchanged == len(recorded)
    path.unlink()
    huge = dict.fromkeys(manifest.files, (0, 0, 2 ** 64 - 1))
    stamp.record_render(path, stamp.inputs(project, out), out, ([], []), manifest.files, [], 2, huge)
    assert not path.exists()


def test_the_stamp_names_the_writers_state_directory() -> None:
    """compiler.output.stamp spells these out to stay light (the writer imports the YAML emitter)."""
    from compiler.output.writer import MANIFEST, STATE_DIR

    assert (stamp.STATE_DIR, f"{stamp.STATE_DIR}/{stamp.MANIFEST_NAME}") == (STATE_DIR, MANIFEST)


def test_the_stamp_stores_its_dataclasses_as_constructor_calls(project: Path) -> None:
    """stamp.save pickles diagnostics, inputs and the stamp as calls (stamp.constructors), not as objects
    whose slots are set one by one (pickle's BUILD): what loads back is what was saved, every field."""
    import pickletools

    from compiler.output.stamp import RenderStamp
    from compiler.output.tree import render_to

    result, _ = render_to(project.parent / "out", jobs=1)
    assert result.diagnostics  # the realtime model's warning is in the stamp
    [path] = (project.parent / "cache").glob("*.stamp")
    data = bytes(sealed.unseal(path.read_bytes()))
    assert "BUILD" not in {op.name for op, _, _ in pickletools.genops(data)}
    stored = stamp.load(path, stamp._StoredRender)
    assert "BUILD" not in {op.name for op, _, _ in pickletools.genops(stored.rest)}
    loaded = stamp.load_render(path)
    assert isinstance(loaded, RenderStamp)
    assert loaded.diagnostics == result.diagnostics
    copy = path.with_name("copy.stamp")
    stamp.save_render(copy, loaded)
    assert stamp.load_render(copy) == loaded


def test_a_stamp_whose_inputs_changed_is_read_no_further(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every output's stat and the diagnostics are unpickled only when the inputs are as recorded: after a
    spec changed, unchanged_render says no having unpickled the inputs alone."""
    import pickle

    from compiler.output.tree import render_to

    out = project.parent / "out"
    assert render_to(out, jobs=1)[0].ok
    path = stamp.render_stamp_path(project, out)
    stored = stamp.load(path, stamp._StoredRender)
    read: list[bool] = []
    real = pickle.loads

    def spy(data: bytes, *args: object, **kwargs: object) -> object:
        read.append(bytes(data) == stored.rest)
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stamp.pickle, "loads", spy)
    assert stamp.unchanged_render(out) is not None
    assert read == [False, True]
    read.clear()
    _spec(project, 0, description="edited")
    assert stamp.unchanged_render(out) is None
    assert read == [False]
