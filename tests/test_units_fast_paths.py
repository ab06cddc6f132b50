"""compiler.language.units' fast paths (answers remembered for the few durations specs repeat, a regex scan
for spaces in URLs) answer as the plain computation does, whatever was asked before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from compiler.language import units


def test_a_float_duration_is_not_answered_with_the_equal_ints_text() -> None:
    assert units.format_duration(5000) == "5s"
    assert units.format_duration(5000.0) == "5.0s"  # callers pass seconds * 1000, a float at times
    assert units.format_duration(5000) == "5s"


@given(st.integers(-10, 10**12))
def test_a_remembered_duration_is_the_one_computed_again(ms: int) -> None:
    assert units.format_duration(ms) == units.format_duration.__wrapped__(ms)


def test_urls_with_any_kind_of_space_are_refused() -> None:
    """The URL checks refuse a URL with a space as str.isspace() knows them (a regex scan now)."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert len(spaces) > 20
    for space in spaces:
        assert not units.is_web_url(f"https://host/a{space}b")
        assert not units.is_repository_url(f"https://host/a{space}b")
    assert units.is_web_url("https://host/ab")
