"""compiler.language.specfiles resolves a run's spec paths a directory at a time; it must agree with
resolving each path on its own (Path.resolve), symlinks and `..` included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from compiler.language.specfiles import discover_specs, resolve_all, work_items


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "specs" / "team").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for name in ("a.yaml", "b.yml", "team/c.yaml"):
        (root / "specs" / name).write_text("x: 1\n")
    (tmp_path / "elsewhere" / "outside.yaml").write_text("x: 1\n")
    (root / "specs" / "link-out.yaml").symlink_to(tmp_path / "elsewhere" / "outside.yaml")
    (root / "specs" / "link-in.yaml").symlink_to(root / "specs" / "team" / "c.yaml")
    (root / "specs" / "linked-dir").symlink_to(root / "specs" / "team", target_is_directory=True)
    (root / "specs" / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (root / "specs" / "up").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    return root


def test_resolving_by_directory_equals_resolving_each_path(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree / "specs")
    paths = [*sorted((tree / "specs").rglob("*")), Path("a.yaml"), Path("team/../a.yaml"), Path("linked-dir/c.yaml"),
             Path("up/outside.yaml"), Path("up/../b.yml"), Path("missing.yaml"), Path("team/.."), Path(".")]
    assert resolve_all(paths) == {p: p.resolve() for p in paths}


def test_work_items_are_the_files_each_resolved_on_its_own(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    named = [Path("specs"), Path("specs/linked-dir/c.yaml"), Path("specs/up/outside.yaml"), Path("specs/gone.yaml")]
    work, missing = work_items(named, tree)
    found = discover_specs(named, tree)
    assert found == sorted(set(found), key=lambda p: (p.resolve().as_posix(), p.as_posix()))
    expected = []
    for p in found:
        if p.is_file():
            try:
                rel = p.resolve().relative_to(tree).as_posix()
            except ValueError:
                rel = p.name
            expected.append((os.path.relpath(p), rel, p))
    assert work == expected
    assert missing == [p for p in found if not p.is_file()]
    assert ("specs/link-out.yaml", "link-out.yaml") in [w[:2] for w in work]  # resolves outside the root


def test_work_items_resolve_each_path_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolutions that sort the specs also give their relative paths: a thousand specs' paths were
    resolved twice, a fifth of finding them."""
    from compiler.language import specfiles

    monkeypatch.chdir(tree)
    calls: list[int] = []
    real = specfiles.resolve_all

    def counted(paths: Any) -> dict[Path, Path]:
        calls.append(1)
        return real(paths)

    monkeypatch.setattr(specfiles, "resolve_all", counted)
    work, _ = work_items([Path("specs")], tree)
    assert work
    assert len(calls) == 1
