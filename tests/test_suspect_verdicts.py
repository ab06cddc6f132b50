"""The string rules remember, per string, whether their prefilter flags it (compiler.check.text_rules.suspect):
a remembered answer must be the regex's answer, and what is remembered must stay bounded, since specs are
untrusted and a run may read any number of them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.check import text_rules

SHAPES = st.sampled_from(["plain", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "AKIA0123456789ABCDEF",
                          "https://user:pw@host/x", "line\nbreak", "bidi\u202eoverride", "x\x00y", "sk-", "eyJ",
                          "-----BEGIN", "glpat-", "xox", "://a@", "a" * 65])


@given(st.lists(st.one_of(SHAPES, st.text(max_size=70)), max_size=30))
def test_remembered_answers_are_the_regex_answers(texts: list[str]) -> None:
    for text in texts * 2:  # the second time from memory, for what was kept
        assert text_rules.suspect(text) == (text_rules._SUSPECT.search(text) is not None)


def test_only_short_strings_are_kept_and_only_so_many(monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts = text_rules._Verdicts()
    monkeypatch.setattr(text_rules, "_REMEMBERED_COUNT", 3)
    long = "x" * (text_rules._REMEMBERED_LENGTH + 1)
    assert verdicts[long] is False
    assert long not in verdicts
    answers = [verdicts[text] for text in ("a", "b", "ghp_", "c", "d")]
    assert answers == [False, False, True, False, False]
    assert dict(verdicts) == {"a": False, "b": False, "ghp_": True}
    assert verdicts["AKIA"] is True  # still answered, not kept
    assert len(verdicts) == 3


def test_the_builder_and_the_walk_ask_the_remembered_answers() -> None:
    # Both find the string rules' strings through `suspect`, so a lint asks the regex once per string.
    assert text_rules.WATCH.flags is text_rules.suspect
    list(text_rules._suspects({"k": "some-unique-value-for-this-test"}))
    assert "some-unique-value-for-this-test" in text_rules.suspect.__self__  # type: ignore[attr-defined]


def test_the_builders_clean_keys_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys the prefilter passed are remembered on the Watch, which lives as long as the process (lint's
    WATCH): untrusted specs may hold any number of distinct keys, so only so many are kept, and what the
    builder reports is the same either way."""
    from compiler.language import yaml_data
    from compiler.language.yaml_watch import Watch
    from compiler.language.yamlsource import load_document

    text = "".join(f"key{i}: v\n" for i in range(20)) + "ghp_abcdefghijklmnopqrstuvwxyz0123456789: x\n"
    unbounded = Watch(text_rules.suspect)
    expected, _ = load_document(text.encode(), "f.yaml", unbounded)
    monkeypatch.setattr(yaml_data, "CLEAN_KEYS", 5)
    bounded = Watch(text_rules.suspect)
    for _ in range(2):  # the second time with the set full
        doc, _ = load_document(text.encode(), "f.yaml", bounded)
        assert doc is not None
        assert expected is not None
        assert doc.watched == expected.watched
    assert len(unbounded.clean_keys) == 20
    assert len(bounded.clean_keys) == 5
