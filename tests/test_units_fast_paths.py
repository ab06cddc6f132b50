"""compiler.language.units' fast paths (answers remembered for the few durations specs repeat, a regex scan
for spaces in URLs, plain schedules judged without croniter) answer as the plain computation does, whatever
was asked before."""

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


_FIELD = st.one_of(st.just("*"), st.integers(0, 99).map(str), st.integers(0, 9).map(lambda n: f"0{n}"))


@given(st.lists(_FIELD, min_size=5, max_size=5))
def test_a_plain_schedule_gets_croniters_verdict(fields: list[str]) -> None:
    """is_cron answers a schedule of `*`s and numbers without croniter: only where croniter accepts it."""
    from croniter import croniter

    expr = " ".join(fields)
    assert units.is_cron.__wrapped__(expr) == bool(croniter.is_valid(expr)), expr


def test_every_plain_field_value_gets_croniters_verdict() -> None:
    from croniter import croniter

    for position in range(5):
        for value in ["*", *map(str, range(100)), *(f"0{n}" for n in range(10))]:
            fields = ["*"] * 5
            fields[position] = value
            expr = " ".join(fields)
            assert units.is_cron.__wrapped__(expr) == bool(croniter.is_valid(expr)), expr
    for day in range(1, 32):  # every day of every month: croniter accepts 31 February too
        for month in range(1, 13):
            expr = f"0 3 {day} {month} *"
            assert units.is_cron.__wrapped__(expr) == bool(croniter.is_valid(expr)) is True, expr


def test_a_plain_schedule_imports_no_croniter() -> None:
    """Judging `0 3 * * 1` loads no croniter (~10 ms of a cold lint); another form does."""
    import subprocess
    import sys

    code = ("import sys\nfrom compiler.language.units import is_cron\n"
            "print(is_cron('0 3 * * 1'), 'croniter' in sys.modules, is_cron('*/5 * * * *'), 'croniter' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False", "True", "True"]


@given(st.sampled_from(["https://", "http://", "ftp://", "", "ssh://git@"]), st.text(max_size=12))
def test_a_remembered_url_verdict_is_the_one_computed_again(scheme: str, rest: str) -> None:
    url = scheme + rest
    assert units.is_web_url(url) == units.is_web_url.__wrapped__(url)
    assert units.is_web_url(url) == units.is_web_url.__wrapped__(url)


@given(st.text(alphabet="ab-9.A_", max_size=70), st.sampled_from([63, 253]))
def test_a_remembered_name_verdict_is_the_one_computed_again(name: str, limit: int) -> None:
    assert units.is_dns_label(name, limit) == units.is_dns_label.__wrapped__(name, limit)
    assert units.is_dns_label(name) == units.is_dns_label.__wrapped__(name)


_URL_SCHEMES = ("http", "https", "ssh")


@given(st.sampled_from(["https://", "http://", "ssh://", "HTTPS://", "ftp://", "h://", "https:/", ""]),
       st.text(alphabet="ab.-/_~:@?#[]%9 \t\u00e9", max_size=16))
def test_a_plain_url_gets_urlsplits_verdict(scheme: str, rest: str) -> None:
    url = scheme + rest
    for schemes in (_URL_SCHEMES, ("http", "https")):
        assert units._url_with_host(url, schemes) == units._split_url_with_host(url, schemes), url


def test_plain_urls_are_answered_as_urlsplit_answers() -> None:
    for url in ["https://github.com/acme/model-0001", "http://a", "ssh://host.example/org/repo.git", "https://-",
                "https://.", "https://h/", "ftp://host/x", "https://", "https:///x", "https://h:80/x", "https://h?x",
                "https://u@h/x", "https://[::1]/x", "https://h/a b", "https://h/x\n"]:
        for schemes in (_URL_SCHEMES, ("http", "https")):
            assert units._url_with_host(url, schemes) == units._split_url_with_host(url, schemes), url
