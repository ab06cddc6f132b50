"""`sorted_tree` (the pipeline IR's key order) skips a call per scalar; it still returns what the plain
recursive definition returns, as a copy that shares no container with its input."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from targets.kubeflow.ir import sorted_tree


def _definition(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _definition(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_definition(v) for v in value]
    return value


leaves = st.one_of(st.text(max_size=4), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
trees = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=4), st.tuples(children, children),
    st.dictionaries(st.text(max_size=4), children, max_size=4),
    st.dictionaries(st.text(max_size=4), children, max_size=3).map(MappingProxyType),
), max_leaves=25)


def _containers(value: Any) -> list[int]:
    if isinstance(value, Mapping):
        return [id(value), *(i for v in value.values() for i in _containers(v))]
    if isinstance(value, list | tuple):
        return [id(value), *(i for v in value for i in _containers(v))]
    return []


@given(trees)
@settings(max_examples=400, deadline=None)
def test_sorted_tree_is_the_recursive_definition(tree: Any) -> None:
    result = sorted_tree(tree)
    expected = _definition(tree)
    assert result == expected
    assert repr(result) == repr(expected)  # same key order, same types (1 vs 1.0 vs True)
    assert not set(_containers(result)) & set(_containers(tree))
