"""compiler.language.specfiles resolves a run's spec paths a directory at a time; it must agree with
resolving each path on its own (Path.resolve), symlinks and `..` included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from compiler.language.specfiles import discover_specs, work_items


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


def reference(named: list[Path], root: Path) -> tuple[list[tuple[str, str, Path]], list[Path]]:
    """work_items by its definition, a path at a time: every spec file under a named directory (hidden
    directories skipped) and every named file, deduplicated as paths, sorted by the file each is and then
    as named, each shown relative to the current directory and recorded relative to the root (or by its name
    when it resolves elsewhere)."""
    found: set[Path] = set()
    for path in named:
        if not path.is_dir():
            found.add(path)
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found.update(Path(folder, f) for f in files if f.endswith((".yaml", ".yml")) and f != "mlspec.yaml")
    ordered = sorted(found, key=lambda p: (p.resolve().as_posix(), p.as_posix()))
    work = []
    for p in ordered:
        if p.is_file():
            try:
                rel = p.resolve().relative_to(root).as_posix()
            except ValueError:
                rel = p.name
            work.append((os.path.relpath(p), rel, p))
    return work, [p for p in ordered if not p.is_file()]


CASES = {
    "the root": ("repo", [Path("specs"), Path("specs/linked-dir/c.yaml"), Path("specs/up/outside.yaml"),
                          Path("specs/gone.yaml")]),
    "inside specs": ("repo/specs", [Path("."), Path("a.yaml"), Path("team/../a.yaml"), Path("up/../b.yml"),
                                    Path("./team"), Path("missing.yaml")]),
    "outside the root": (".", [Path("repo/specs/"), Path("repo/specs/team"), Path("elsewhere"),
                               Path("repo/./specs//team/c.yaml")]),
    "below specs": ("repo/specs/team", [Path(".."), Path("../up"), Path("c.yaml")]),
    "absolute": ("repo", ["ABS/repo/specs", "ABS/repo/specs/linked-dir", "ABS/elsewhere/outside.yaml"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_work_items_are_the_files_each_resolved_on_its_own(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                          case: str) -> None:
    cwd, named = CASES[case]
    named = [Path(str(p).replace("ABS", str(tree.parent))) for p in named]
    monkeypatch.chdir(tree.parent / cwd)
    work, missing = reference(named, tree)
    assert work_items(named, tree) == (work, missing)
    found = discover_specs(named, tree)
    assert [p for p in found if p.is_file()] == [w[2] for w in work]
    assert [p for p in found if not p.is_file()] == missing


def test_a_link_resolves_where_it_points(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    work, missing = work_items([Path("specs")], tree)
    assert ("specs/link-out.yaml", "link-out.yaml") in [w[:2] for w in work]  # resolves outside the root
    assert ("specs/link-in.yaml", "specs/team/c.yaml") in [w[:2] for w in work]
    assert missing == [Path("specs/dangling.yaml")]


def test_work_items_resolve_each_directory_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory's specs are found on its resolution joined with their names: resolving each of a thousand
    specs' paths (twice, before) was most of finding them. Only a link is resolved on its own."""
    for i in range(20):
        (tree / "specs" / "team" / f"m{i}.yaml").write_text("x: 1\n")
    monkeypatch.chdir(tree)
    calls: list[Path] = []
    real = Path.resolve

    def counted(self: Path, strict: bool = False) -> Any:
        calls.append(self)
        return real(self, strict)

    monkeypatch.setattr(Path, "resolve", counted)
    work, _ = work_items([Path("specs/team")], tree)
    assert len(work) == 21
    assert calls == [Path("specs/team")]
