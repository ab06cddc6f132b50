"""The string rules' walk (compiler.check.text_rules._suspects) builds a path only for the strings a rule must
look at. It must yield exactly those of the plain walk below (every string value and key, with its path),
in the same order: the diagnostics, and their order, are what a lint reports."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.check import text_rules
from compiler.check.text_rules import _SUSPECT, _URL_FIELDS, WATCH, _suspects, text_problems
from compiler.language.yamlsource import load_document

# Text that trips the prefilter (controls, token prefixes, URL userinfo), URL fields and plain words.
TEXT = st.one_of(
    st.sampled_from(["plain", "repo", "runbook", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "AKIA0123456789ABCDEF",
                     "https://user:pw@host/x", "line\nbreak", "tab\there", "bidi\u202eoverride", "x\x00y",
                     "https://runbooks.example.com/a", "git@github.com:org/repo", "not a url", ""]),
    st.text(max_size=12),
)
KEYS = st.one_of(TEXT, st.sampled_from(["repo", "runbook", "description", "env", "command"]))
DATA = st.recursive(
    st.one_of(TEXT, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=40,
)


def plain_walk(value: Any) -> list[tuple[tuple[Any, ...], str, bool]]:
    """Every string value and mapping key with its path, as the string rules walked before (a stack)."""
    out: list[tuple[tuple[Any, ...], str, bool]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            out.append((path, node, False))
        elif isinstance(node, dict):
            for key, item in node.items():
                where = (*path, key)
                if isinstance(key, str):
                    out.append((where, key, True))
                stack.append((where, item))
        elif isinstance(node, list | tuple):
            stack.extend(((*path, index), item) for index, item in enumerate(node))
    return out


def looked_at(path: tuple[Any, ...], text: str, is_key: bool) -> bool:
    return bool(_SUSPECT.search(text)) or (not is_key and bool(path) and path[-1] in _URL_FIELDS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA)
def test_the_walk_yields_what_the_rules_look_at_in_order(data: Any) -> None:
    assert list(_suspects(data)) == [s for s in plain_walk(data) if looked_at(*s)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["model", "monitors", "metadata", "code"]), DATA, max_size=4))
def test_text_problems_are_the_rules_over_the_plain_walk(data: Any) -> None:
    """The findings (codes, paths, messages, hints, order) are those the rules give over the plain walk."""
    found = list(text_problems(data))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_rules, "_suspects", lambda value: iter([s for s in plain_walk(value) if looked_at(*s)]))
        assert found == list(text_problems(data))


def test_a_credential_in_a_key_and_a_url_field_are_both_found() -> None:
    data = {"model": {"code": {"repo": "not a url"}}, "labels": {"ghp_abcdefghijklmnopqrstuvwxyz0123456789": "x"}}
    found = [(d.code, d.path) for d in text_problems(data)]
    assert found == [("MLS225", ("labels", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")),
                     ("MLS241", ("model", "code", "repo"))]


def _watched(text: str) -> tuple[list[Any], list[Any]]:
    doc, _ = load_document(text.encode(), "f.yaml", WATCH)
    assert doc is not None
    assert doc.watched is not None
    return doc.watched, list(_suspects(doc.data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, DATA, max_size=5), st.sampled_from([None, True, False]))
def test_the_builder_watches_what_the_walk_yields_in_order(data: Any, flow: bool | None) -> None:
    """Lint takes the string rules' strings from the YAML builder (text_rules.WATCH) instead of walking the
    data: the same strings, paths and order as the walk, whatever the document's style."""
    watched, walked = _watched(yaml.safe_dump(data, default_flow_style=flow, allow_unicode=bool(flow)))
    assert watched == walked


@pytest.mark.parametrize("text", [
    "a: &x {ghp_abcdefghijklmnopqrstuvwxyz0123456789: \"tab\\there\", repo: x}\nb: *x\nc: [*x, *x]\n",
    "repo: https://u:p@host/r\nrepo: \"x\\x01\"\nlist: [\"a\\u202e\", plain, {runbook: ftp://x}]\n",
    "model:\n  code:\n    repo: not a url\n  sk-abcdefghijklmnopqrstuvwxyz: |\n    two\n    lines\n",
])
def test_the_builder_watches_aliases_and_duplicates_as_the_walk_sees_them(text: str) -> None:
    """An alias is built (and watched) at each use, a duplicate key is dropped before it is watched."""
    watched, walked = _watched(text)
    assert watched == walked
    assert watched


def test_a_key_flagged_once_is_flagged_in_every_spec() -> None:
    """The watch remembers the keys it found clean, never the ones it flagged."""
    for _ in range(2):
        watched, _ = _watched("eyJabcdefghij.eyJabcdefghij.abcdefghij: 1\nplain: 2\n")
        assert [w[0] for w in watched] == [("eyJabcdefghij.eyJabcdefghij.abcdefghij",)]
