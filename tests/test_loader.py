"""The YAML loader on its own: YAML 1.2 scalars, the safety limits, and the source map's positions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from compiler.language.yamlsource import MAX_ALIASES, MAX_BYTES, iter_paths, load_document
from compiler.pipeline import run
from compiler.render.plugins import Registry
from golden import REPO


def load(text: str | bytes) -> tuple[object, list[str]]:
    raw = text.encode() if isinstance(text, str) else text
    doc, problems = load_document(raw, "x.yaml")
    return (doc.data if doc else None), [p.code for p in problems]


@pytest.mark.parametrize(("text", "expected"), [
    ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("y", "y"),  # YAML 1.1 booleans stay strings
    ("true", True), ("False", False), ("~", None), ("null", None), ("", None),
    ("012", 12), ("0o17", 15), ("0x1F", 31), ("1_000", "1_000"), ("1.5", 1.5), ("1e3", 1000.0),
    ("3f2a9c0d", "3f2a9c0d"), ("1:30", "1:30"), ("2026-11-01", "2026-11-01"), ("'1'", "1"), ('"true"', "true"),
    ("!!str 12", "12"), ("!!float 1", 1.0), ("!!int 7", 7), ("-.inf", -math.inf),
])
def test_scalars_resolve_with_yaml_1_2_core_rules(text: str, expected: object) -> None:
    data, problems = load(f"k: {text}\n")
    assert problems == []
    assert isinstance(data, dict)
    assert data["k"] == expected
    assert type(data["k"]) is type(expected)


def test_nan_is_a_float() -> None:
    data, _ = load("k: .nan\n")
    assert isinstance(data, dict)
    assert math.isnan(data["k"])


def test_positions_of_keys_and_values_are_one_based() -> None:
    doc, _ = load_document(b"a:\n  b: [1, {c: x}]\n  d: |\n    text\n", "x.yaml")
    assert doc is not None
    assert doc.source.keys[("a",)] == (1, 1)
    assert doc.source.keys[("a", "b")] == (2, 3)
    assert doc.source.values[("a", "b")] == (2, 6)
    assert doc.source.values[("a", "b", 1, "c")] == (2, 14)
    assert doc.source.values[("a", "d")] == (3, 6)
    # A path that does not exist falls back to its nearest existing ancestor.
    assert doc.source.locate(("a", "b", 1, "missing")) == (2, 10)
    assert set(iter_paths(doc.data)) <= set(doc.source.values)


def test_every_duplicate_key_is_reported_with_both_positions() -> None:
    doc, problems = load_document(b"a: 1\nb: 2\na: 3\nb: 4\n", "x.yaml")
    assert doc is not None
    assert doc.data == {"a": 1, "b": 2}
    assert [(p.code, p.line, p.col) for p in problems] == [("MLS005", 3, 1), ("MLS005", 4, 1)]
    assert "line 1" in problems[0].message


def test_a_few_aliases_are_fine() -> None:
    data, problems = load("a: &x [1, 2]\nb: *x\nc: *x\n")
    assert problems == []
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_alias_use_is_limited() -> None:
    text = "a: &x [1]\n" + "".join(f"k{i}: *x\n" for i in range(MAX_ALIASES + 1))
    assert load(text) == (None, ["MLS007"])


def test_bomb_of_scalars_is_caught_by_the_node_limit() -> None:
    # Each level multiplies; aliases of scalar-only lists must still be bounded.
    levels = ["a0: &a0 [" + ", ".join(["x"] * 50) + "]"]
    for i in range(1, 5):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 20) + "]")
    _, problems = load("\n".join(levels) + "\n")
    assert problems == ["MLS007"]


def test_the_size_limit_is_checked_before_parsing() -> None:
    assert load(b"a: " + b"x" * MAX_BYTES + b"\n") == (None, ["MLS001"])


@pytest.mark.parametrize(("raw", "code"), [
    (b"a: \xff\n", "MLS002"),
    (b"a: b\x00c\n", "MLS002"),
    (b"", "MLS010"),
    (b"# only a comment\n", "MLS010"),
    (b"just a string\n", "MLS010"),
    (b"42\n", "MLS010"),
    (b"a: 1\n---\nb: 2\n", "MLS009"),
    (b"a: [1, 2\n", "MLS003"),
    (b"a:\n\t- 1\n", "MLS004"),
    (b"? [a, b]\n: c\n", "MLS003"),
    (b"a: !!binary aGVsbG8=\n", "MLS006"),
    (b"a: !!int twelve\n", "MLS006"),
    (b"a: !!set {x}\n", "MLS006"),
    (b"a: !!python/name:os.system\n", "MLS006"),
    (b"a: &x {b: 1}\nc:\n  <<: *x\n", "MLS013"),
])
def test_bad_files_are_diagnostics(raw: bytes, code: str) -> None:
    doc, problems = load_document(raw, "x.yaml")
    assert doc is None
    assert [p.code for p in problems] == [code]


def test_utf8_bom_and_unicode_are_accepted() -> None:
    data, problems = load("\ufeffname: café ☕\n".encode())
    assert problems == []
    assert data == {"name": "café ☕"}


def test_a_tab_inside_a_value_is_not_indentation() -> None:
    data, problems = load('a: "x\ty"\n')
    assert problems == []
    assert data == {"a": "x\ty"}


def test_a_document_libyaml_rejects_is_reparsed_before_reporting() -> None:
    # libyaml refuses a plain scalar that starts with `:` in flow context; YAML 1.2 allows it.
    doc, problems = load_document(b"a: [b, c]\nd: {e: ::f}\n", "x.yaml")
    assert problems == []
    assert doc is not None
    assert doc.data == {"a": ["b", "c"], "d": {"e": "::f"}}


def test_a_missing_spec_file_is_a_diagnostic(tmp_path: Path) -> None:
    result = run([tmp_path / "nope.yaml"], root=tmp_path, registry=Registry(), jobs=1)
    assert [d.code for d in result.diagnostics] == ["MLS001"]


def test_the_example_specs_load_without_problems() -> None:
    for path in sorted((REPO / "specs").glob("*.yaml")):
        doc, problems = load_document(path.read_bytes(), path.name)
        assert doc is not None, path
        assert problems == [], path


def test_a_surrogate_escape_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    from compiler.pipeline import check_spec, make_context

    raw = (REPO / "specs" / "churn-scorer.yaml").read_bytes().replace(b"name: churn-scorer", b'name: "\\ud800"')
    result = check_spec(raw, "x.yaml", "x.yaml", make_context(tmp_path, Registry()))
    assert [(d.code, d.path) for d in result.diagnostics] == [("MLS002", ("metadata", "name"))]
    assert result.diagnostics[0].line > 0


def test_json_surrogate_pairs_are_one_character() -> None:
    data, problems = load('k: "\\ud83d\\ude00"\n')
    assert problems == []
    assert data == {"k": "\U0001f600"}
