"""The builder's fast path for libyaml's nodes (plain ASCII scalars handled inline) against its general path
(which ruamel.yaml's nodes take): the same data, source map and problems for any document. The general path
is driven with the same nodes copied into classes that are not PyYAML's, as ruamel's are not."""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.language import yaml_data
from compiler.language.yaml_data import Builder, SourceMap, SpecSyntaxError
from compiler.language.yamlsource import _compose_libyaml

SCALARS = st.one_of(
    st.sampled_from(["yes", "no", "~", "null", "0o17", "0x1F", "1e3", ".inf", "-.Inf", ".nan", "1_000", "+12", "True",
                     "<<", "", " ", "é", "a: b", "- x", "#", "'", '"', "\\u00e9", "08", "3.", "-0"]),
    st.text(alphabet=st.sampled_from(list("ab1.-_: é\n\t#'\"")), max_size=6),
    st.integers(-10**20, 10**20), st.floats(allow_nan=False), st.booleans(), st.none(),
)
KEYS = st.one_of(st.sampled_from(["a", "b", "<<", "yes", "1", "é", "a b"]), st.text(max_size=4))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)
# Documents a dumper does not write: tags, duplicate keys, merge keys, aliases, flow and block styles.
HANDWRITTEN = [
    "a: !!str 5\nb: !!int '7'\nc: !!float 1\nd: !!bool true\ne: !!null ''\nf: !!int x\n",
    "a: 1\na: 2\nb: {c: 1, c: 2}\n", "<<: {a: 1}\n", "a: &x [1, 2]\nb: *x\nc: *x\n", "a: !custom 1\n",
    "? [1]\n: x\n", "a: |\n  line\n  two\nb: >-\n  folded\n  text\n", "- [a, {b: c}]\n- !!seq [1]\n- !!map {a: 1}\n",
    "a: 'é'\nb: \"\\u00e9\\t\"\n", "a: \"\\ud83d\\ude00\"\n", "a: \"\\ud800\"\n", "x: !!binary aGk=\n",
]


def built(nodes: list[Any]) -> tuple[Any, ...]:
    source = SourceMap("f.yaml", nodes[0])
    builder = Builder("f.yaml")
    try:
        data: Any = builder.build(nodes[0])
    except SpecSyntaxError as exc:
        return ("failed", exc.diag), builder.problems  # no document, so no source map
    return _comparable(data), source.values, source.keys, source.collections, builder.problems


def _comparable(value: Any) -> Any:
    """NaN equals itself here; types are kept (1 and 1.0 and True differ)."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return (type(value).__name__, value)


class ScalarNode:  # the builder tells node kinds by class name, as for ruamel's own classes
    def __init__(self, node: Any) -> None:
        self.tag, self.value, self.start_mark = node.tag, node.value, node.start_mark


class SequenceNode(ScalarNode):
    pass


class MappingNode(ScalarNode):
    pass


def foreign(node: Any, copies: dict[int, Any]) -> Any:
    """`node` as non-PyYAML nodes; a node used twice (an alias) stays one object."""
    if id(node) in copies:
        return copies[id(node)]
    kind = {"ScalarNode": ScalarNode, "SequenceNode": SequenceNode, "MappingNode": MappingNode}[type(node).__name__]
    copy = copies[id(node)] = kind(node)
    if kind is SequenceNode:
        copy.value = [foreign(item, copies) for item in node.value]
    elif kind is MappingNode:
        copy.value = [(foreign(k, copies), foreign(v, copies)) for k, v in node.value]
    return copy


def assert_same(text: str) -> None:
    try:
        nodes = _compose_libyaml(text)
    except yaml.YAMLError:
        return
    assert built(nodes) == built([foreign(nodes[0], {})]), text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA, st.sampled_from([None, True, False]), st.booleans())
def test_the_fast_path_builds_what_the_general_path_builds(data: Any, flow: bool | None, quote: bool) -> None:
    text = yaml.safe_dump({"root": data}, default_flow_style=flow, allow_unicode=True,
                          default_style='"' if quote else None)
    assert_same(text)


def test_handwritten_documents_build_alike_on_both_paths() -> None:
    for text in HANDWRITTEN:
        assert_same(text)


def test_the_limits_stop_both_paths_at_the_same_node(monkeypatch: Any) -> None:
    monkeypatch.setattr(yaml_data, "MAX_NODES", 7)
    monkeypatch.setattr(yaml_data, "MAX_DEPTH", 2)
    for text in ["a: 1\nb: 2\nc: 3\nd: [1, 2, 3, 4]\n", "a: x\nb: y\nc: z\nd: [p, q, r, s]\n", "a: {b: {c: 1}}\n",
                 "a: {b: {c: name}}\n", "a: {b: name}\nc: [x]\n", "- - - 1\n", "- - - x\n",
                 "- [x, y, z, w, v, u, t]\n"]:
        assert_same(text)
