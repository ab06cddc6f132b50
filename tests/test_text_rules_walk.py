"""The string rules' walk (compiler.check.text_rules._suspects) builds a path only for the strings a rule must
look at. It must yield exactly those of the plain walk below (every string value and key, with its path),
in the same order: the diagnostics, and their order, are what a lint reports."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.check import text_rules
from compiler.check.text_rules import _SUSPECT, _URL_FIELDS, _suspects, text_problems

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
