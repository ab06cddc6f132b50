"""Loader limits against hostile files: nesting in flow collections, huge files, NUL bytes, and files or
directories the user cannot read. Each must be one positioned diagnostic, fast, in bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from faults import NO_OVERRIDE

from compiler.language.yamlsource import MAX_BYTES, MAX_DEPTH, load_document
from compiler.pipeline import run
from compiler.render.plugins import Registry
from golden import REPO


def _nested(opening: str, closing: str, levels: int) -> bytes:
    return ("apiVersion: mlspec/v1\nx: " + opening * levels + closing * levels + "\n").encode()


def python_calls(work: Callable[[], object]) -> int:
    """How many Python functions `work` calls: a measure of work that a loaded machine does not change."""
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize(("opening", "closing", "levels"), [
    ("[", "]", 1000),       # 2 KB: libyaml gives up at its own limit of 1,000 levels
    ("[", "]", 5000),
    ("[", "]", 500),        # within libyaml's limit, beyond ours
    ("{a: ", "}", 1000),
    ("[{a: ", "}]", 600),
])
def test_deep_flow_collections_stop_at_the_depth_limit_in_milliseconds(opening: str, closing: str,
                                                                       levels: int) -> None:
    raw = _nested(opening, closing, levels)
    doc, problems = load_document(raw, "deep.yaml")
    assert doc is None
    assert [(p.code, p.file, p.line) for p in problems] == [("MLS008", "deep.yaml", 2)]
    # At the collection one level too deep (the 65th below the top mapping), not at the end or at 0:0.
    per = opening.count("[") + opening.count("{")
    pairs, within = divmod(MAX_DEPTH, per)
    offset = [i for i, c in enumerate(opening) if c in "[{"][within]
    assert problems[0].col == len("x: ") + pairs * len(opening) + offset + 1
    # The work stops at the limit: four times the nesting costs no more (it used to take 2.5-8 s and
    # end as a syntax error). Counted in calls, not seconds, so a loaded machine cannot fail it.
    deeper = _nested(opening, closing, levels * 4)
    assert python_calls(lambda: load_document(deeper, "deep.yaml")) <= python_calls(
        lambda: load_document(raw, "deep.yaml")) * 1.1 + 100


def test_deep_flow_collection_position_is_exact() -> None:
    doc, problems = load_document(_nested("[", "]", 1000), "deep.yaml")
    assert doc is None
    assert problems[0].to_text().splitlines()[0] == (
        f"deep.yaml:2:{len('x: ') + MAX_DEPTH + 1}: error MLS008 <root>: document nests deeper than {MAX_DEPTH} levels")


def test_deep_nesting_in_a_document_libyaml_rejects_stops_at_the_limit() -> None:
    # `{e: ::f}` sends the file to the pure-Python parser, whose composer recursion used to take seconds.
    raw = b"d: {e: ::f}\n" + _nested("[", "]", 3000)
    doc, problems = load_document(raw, "deep.yaml")
    deeper = b"d: {e: ::f}\n" + _nested("[", "]", 12000)
    assert python_calls(lambda: load_document(deeper, "deep.yaml")) <= python_calls(
        lambda: load_document(raw, "deep.yaml")) * 1.1 + 100
    assert doc is None
    assert [(p.code, p.line) for p in problems] == [("MLS008", 3)]


def test_nul_bytes_are_reported_where_they_are() -> None:
    doc, problems = load_document(b"a: 1\nb: x\x00y\n", "nul.yaml")
    assert doc is None
    assert [(p.code, p.line, p.col) for p in problems] == [("MLS002", 2, 5)]


def test_the_size_limit_has_a_position() -> None:
    doc, problems = load_document(b"a: " + b"x" * MAX_BYTES + b"\n", "big.yaml")
    assert doc is None
    assert [(p.code, p.line, p.col) for p in problems] == [("MLS001", 1, 1)]


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "specs" / "huge.yaml"
    huge.parent.mkdir()
    with open(huge, "wb") as handle:
        handle.truncate(500 * 1024 * 1024)  # sparse: costs no disk
    tracemalloc.start()
    try:
        result = run([huge], root=tmp_path, registry=Registry(), jobs=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("MLS001", 1, 1)]
    assert "524288000 bytes" in result.diagnostics[0].message
    assert peak < 20 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"  # was the whole file: 500 MiB


def _mlspec(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as root *without* root's permission override, so file modes apply as for any user."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*NO_OVERRIDE, sys.executable, "-m", "compiler", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=120)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "specs" / "fraud-detector.yaml").write_bytes((REPO / "specs" / "fraud-detector.yaml").read_bytes())
    return project


def test_an_unreadable_spec_file_is_one_positioned_line_and_exit_2(tmp_path: Path) -> None:
    project = _project(tmp_path)
    secret = project / "specs" / "secret.yaml"
    secret.write_bytes((REPO / "specs" / "fraud-detector.yaml").read_bytes().replace(b"fraud-detector", b"secret"))
    secret.chmod(0)
    done = _mlspec(["lint"], project)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "specs/secret.yaml:1:1: error MLS014 <root>: cannot read the file: Permission denied (EACCES)" \
        in done.stderr


def test_an_unreadable_spec_directory_is_an_error_not_a_clean_lint(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "specs" / "private").mkdir()
    (project / "specs" / "private").chmod(0)
    done = _mlspec(["lint"], project)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "mlspec: error: cannot read directory specs/private: Permission denied (EACCES)"]


def test_an_unreadable_project_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    (project / "mlspec.yaml").chmod(0)
    done = _mlspec(["lint"], project)
    assert done.returncode == 2, done.stderr
    assert "mlspec.yaml:1:1: error MLS014 <root>: cannot read the file: Permission denied (EACCES)" in done.stderr
    assert "Traceback" not in done.stderr
