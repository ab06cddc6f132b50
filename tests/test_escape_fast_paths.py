"""The governance escape helpers' shortcuts for text with nothing to escape write what the general
helpers write (tests/test_governance.py holds the general helpers to their contexts)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from targets.governance import escape

# Characters each shortcut must refuse or keep: spaces of every kind, backticks and pipes, Mermaid's
# `%%` and `--`, ordered-list markers (`1.` `2)`), control characters, quotes, non-ASCII.
_EDGES = "aZ09 `|%-.)(#\"'_:/=+@,&;<>[]*~!\\\t\n\r\x00\x7f\xa0é\u2028"
texts = st.one_of(st.text(alphabet=st.sampled_from(_EDGES), max_size=12), st.text(max_size=8))


@given(texts)
@settings(max_examples=1500, deadline=None)
@example("")
@example("a  b")
@example(" a")
@example("a `b`")
@example("x|y")
def test_md_code_shortcut_is_the_general_helper(text: str) -> None:
    assert escape.md_code(text) == escape._md_code(text)


@given(texts)
@settings(max_examples=1500, deadline=None)
@example("")
@example("1. step")
@example("12) x")
@example("a--b")
@example("50%% x")
@example("a  b")
@example("train (gpu)")
def test_mermaid_label_shortcut_is_the_general_helper(text: str) -> None:
    assert escape.mermaid_label(text) == escape._mermaid_label(text)


@given(texts)
@settings(max_examples=800, deadline=None)
def test_md_text_escapes_each_inline_character_once(text: str) -> None:
    # The escape table is the per-character rule it replaced: a backslash before each inline character.
    assert text.translate(escape._ESCAPED) == "".join(f"\\{c}" if c in escape._INLINE else c for c in text)
