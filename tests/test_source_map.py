"""The source map finds positions in the composed nodes when asked: it must answer what the builder's
eager recording (a dictionary entry per key and value, kept here as the reference) answered, for paths
that exist and paths that do not, at keys and at values, and for the settings views of mlspec.yaml."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Path
from compiler.language.yaml_data import SourceMap, key_text
from compiler.language.yamlsource import _compose_libyaml, load_document

KEYS = st.sampled_from(["a", "b", "c", "1", "é", "<<x"])
DATA = st.recursive(st.one_of(st.integers(0, 3), st.sampled_from(["x", "yes", ""]), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
                    max_leaves=15)
PARTS = st.one_of(KEYS, st.integers(-1, 3), st.sampled_from([True, 1.0, "0", "missing"]))
# Handwritten: duplicate keys (the first counts), aliases (the anchor's position), flow and block styles.
HANDWRITTEN = ["a: 1\nb: {c: 1, c: [2]}\na: 3\n", "a: &x [1, {b: 2}]\nc: *x\nd: {e: *x}\n",
               "a:\n  - b: 1\n    c:\n      - x\n  - [y, z]\n", "'1': a\n1.0: b\ntrue: c\n",
               "é: {b: 1}\n\"\\u00e9\": 2\n"]


class Recorded:
    """The source map as the builder recorded it before it was lazy (the reference)."""

    def __init__(self) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.collections: set[Path] = set()

    def record(self, node: Any, path: Path = ()) -> None:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.SequenceNode):
            self.collections.add(path)
            for i, item in enumerate(node.value):
                self.record(item, (*path, i))
        elif isinstance(node, yaml.MappingNode):
            self.collections.add(path)
            for key_node, value_node in node.value:
                child = (*path, key_text(key_node))
                if child not in self.keys:
                    self.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    self.record(value_node, child)

    def locate(self, path: Path, *, at_key: bool = False) -> tuple[int, int]:
        if at_key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.collections and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def within(self, prefix: Path) -> Recorded:
        """compiler.pipeline._subdocument's view, as it was: no collections, the root at `prefix`."""
        view = Recorded()
        n = len(prefix)
        view.values = {k[n:]: v for k, v in self.values.items() if k[:n] == prefix}
        view.keys = {k[n:]: v for k, v in self.keys.items() if k[:n] == prefix}
        if () not in view.values:
            view.values[()] = self.locate(prefix)
        return view


def assert_same(text: str, paths: list[Path]) -> None:
    node = _compose_libyaml(text)[0]
    lazy, recorded = SourceMap("f.yaml", node), Recorded()
    recorded.record(node)
    assert (lazy.values, lazy.keys, lazy.collections) == (recorded.values, recorded.keys, recorded.collections)
    every = [*recorded.values, *paths, *((*p, "missing") for p in recorded.values), *(p[:-1] for p in paths)]
    for path in every:
        for at_key in (False, True):
            assert lazy.locate(path, at_key=at_key) == recorded.locate(path, at_key=at_key), (text, path, at_key)
    for prefix in [*recorded.values, *paths][:12]:
        view, reference = lazy.within(prefix), recorded.within(prefix)
        for path in every[:40]:
            for at_key in (False, True):
                assert view.locate(path, at_key=at_key) == reference.locate(path, at_key=at_key), (text, prefix, path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA, st.sampled_from([None, True, False]), st.lists(st.lists(PARTS, max_size=4).map(tuple), max_size=6))
def test_positions_are_those_the_builder_recorded(data: Any, flow: bool | None, paths: list[Path]) -> None:
    assert_same(yaml.safe_dump({"root": data}, default_flow_style=flow, allow_unicode=True), paths)


def test_handwritten_documents_locate_as_recorded() -> None:
    for text in HANDWRITTEN:
        assert_same(text, [("a", 0, "b"), ("d", "e", 1, "b"), ("a", 1, 0), ("1",), (1,), ("é", "b"), ("c", 0)])


def test_a_duplicate_key_is_placed_at_the_first_one() -> None:
    doc, problems = load_document(b"a: 1\nb: {c: 1}\na: [2]\n", "x.yaml")
    assert doc is not None
    assert [(p.code, p.message, p.line) for p in problems] == [("MLS005", "duplicate key 'a' (first defined at line 1)",
                                                                 3)]
    assert doc.source.locate(("a",)) == (1, 4)
    assert doc.source.locate(("b", "c"), at_key=True) == (2, 5)
    assert doc.source.locate(("b",)) == (2, 1)  # a collection at its key
