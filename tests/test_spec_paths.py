"""A spec's path (relative to the project root) is its identity: in the manifest, the caches, and the
per-spec shares of project-wide files. Specs outside the root are recorded by file name, so two of them
with one name must be an error (MLS015), not one model silently taking the other's place."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from compiler.output.lint_cache import lint
from compiler.output.tree import render_to
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    found = []
    for folder, index in (("a", 0), ("b", 2)):
        path = tmp_path / folder / "x.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(make_spec(index), sort_keys=False))
        found.append(path)
    return found


def test_two_specs_outside_the_root_with_one_name_are_an_error_and_nothing_is_written(
        outside: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result, _ = render_to(out, outside, jobs=1)
    errors = [d for d in result.diagnostics if d.code == "MLS015"]
    assert len(errors) == 1
    assert "'x.yaml'" in errors[0].message
    assert errors[0].hint
    assert not out.exists() or not any(out.rglob("*.yaml"))
    assert [d.code for d in lint(outside).diagnostics if d.code == "MLS015"] == ["MLS015"]


def test_specs_outside_the_root_with_distinct_names_render(outside: list[Path], tmp_path: Path) -> None:
    renamed = outside[1].with_name("y.yaml")
    outside[1].rename(renamed)
    result, _ = render_to(tmp_path / "out", [outside[0], renamed], jobs=1)
    assert result.ok
