"""Plain scalars resolve by the YAML 1.2 core schema's patterns tried in order (compiler.language.yaml_data):
one combined pattern must give exactly what trying each in turn gives, for any text."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.language import yaml_data
from compiler.language.yaml_data import _plain_scalar

EDGES = ["", "~", "null", "Null", "NULL", "nULL", "0", "-0", "+0", "08", "0o17", "0o8", "0x1F", "0xg", "1e3", "1E-3",
         "1.", ".5", "-.5", "+.", ".", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "-.nan", "1_000", "300ms", "2%",
         "-", "--1", "0.0.1", "1e", "e3", "true", "True", "é", "0o", "0x", "12:30", "-inf"]


def _one_by_one(text: str) -> Any:
    """The order the core schema gives, one pattern at a time (the reference)."""
    if text[:1].isalpha():
        return yaml_data._BOOL.get(text, None if text in ("null", "Null", "NULL") else text)
    if yaml_data._NULL.fullmatch(text):
        return None
    for pattern, value in ((yaml_data._INT10, lambda: int(text)), (yaml_data._INT8, lambda: int(text[2:], 8)),
                           (yaml_data._INT16, lambda: int(text[2:], 16)), (yaml_data._FLOAT, lambda: float(text)),
                           (yaml_data._INF, lambda: -math.inf if text.startswith("-") else math.inf),
                           (yaml_data._NAN, lambda: math.nan)):
        if pattern.fullmatch(text):
            return value()
    return text


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b and str(a) == str(b)  # -0.0 and 0.0 differ


def test_edges_resolve_as_one_pattern_at_a_time() -> None:
    for text in EDGES:
        assert _same(_plain_scalar(text), _one_by_one(text)), text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789+-.eExXoOabfinNatulL~_:% ")), max_size=8))
def test_any_text_resolves_as_one_pattern_at_a_time(text: str) -> None:
    assert _same(_plain_scalar(text), _one_by_one(text)), text
