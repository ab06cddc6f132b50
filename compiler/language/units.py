"""Parsing of the small value languages specs use: durations, percentages, quantities, pins, names."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

# Every pattern here is applied with `fullmatch`, never `match(...$)`: `$` also matches before a
# trailing newline, so a `$`-anchored `match` accepts "x\n" and "fraud-detector\n" would pass as a name.
# Prometheus-style durations: one or more <number><unit> from largest to smallest unit.
DURATION_RE = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_MS = (7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000, 1)

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MD5_RE = re.compile(r"[0-9a-f]{32}(\.dir)?")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Kubernetes resource quantities (a practical subset of resource.Quantity).
QUANTITY_RE = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
METRIC_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@lru_cache(maxsize=4096)  # ~40 calls a spec on a few dozen distinct texts (`5m`, `1h`, ...)
def duration_ms(text: str) -> int | None:
    """`1h30m` -> 5_400_000; None when the text is not a duration or is zero."""
    match = DURATION_RE.fullmatch(text)
    if not match or not text:
        return None
    total = sum(int(part) * unit for part, unit in zip(match.groups(), _DURATION_MS, strict=True) if part)
    return total or None


# The schedules nearly every spec writes: each field `*` or one number (`0 3 * * 1`). Within these ranges
# croniter accepts every such expression (tests/test_units.py holds the two equal), so it is neither imported
# (~10 ms of a cold lint) nor asked (~0.1 ms an expression) for them; anything else is croniter's to judge.
_PLAIN_CRON = re.compile(r"(\*|[0-9]{1,2}) (\*|[0-9]{1,2}) (\*|[0-9]{1,2}) (\*|[0-9]{1,2}) (\*|[0-9]{1,2})")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day-of-month month day-of-week


@lru_cache(maxsize=1024)
def is_cron(expr: str) -> bool:
    """croniter's verdict on a schedule, once per text: it expands every field (a third of a millisecond
    a call), and a thousand specs share a few dozen schedules. Imported on first use (~10 ms), and not for
    a plain schedule in range, which it accepts."""
    plain = _PLAIN_CRON.fullmatch(expr)
    if plain and all(field == "*" or low <= int(field) <= high
                     for field, (low, high) in zip(plain.groups(), _CRON_RANGES, strict=True)):
        return True
    from croniter import croniter

    return bool(croniter.is_valid(expr))


def duration_seconds(text: str) -> int:
    """Whole seconds of a duration such as `90s` or `1h` (0 when it is not one: the rules report that)."""
    return (duration_ms(text) or 0) // 1000


# ~6 calls a spec (each monitor's window) on the few durations specs write. Typed: a float gives another
# text (5000.0 -> "5.0s") than the equal int.
@lru_cache(maxsize=1024, typed=True)
def format_duration(ms: int) -> str:
    """The shortest Prometheus duration for `ms` (inverse of duration_ms)."""
    if ms <= 0:
        return "0s"
    out = ""
    for unit, size in zip(("w", "d", "h", "m", "s", "ms"), _DURATION_MS, strict=True):
        count, ms = divmod(ms, size)
        if count:
            out += f"{count}{unit}"
    return out


def percent(value: float | str) -> float | None:
    """A ratio in [0, 1] from `1%`, `0.5 %` or a plain ratio such as 0.01; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            return None
        try:
            number = float(text[:-1].strip())
        except ValueError:
            return None
        ratio = number / 100
    else:
        ratio = float(value)
    return ratio if 0 <= ratio <= 1 else None


# Remembered: ~20 names a spec (steps, monitors, features, the team, ...), which a run's specs mostly share.
@lru_cache(maxsize=4096)
def is_dns_label(name: str, limit: int = 63) -> bool:
    return len(name) <= limit and bool(DNS1123_LABEL.fullmatch(name))


# Kubernetes label keys and values (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue).
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_label_value(value: str) -> bool:
    """Empty, or at most 63 of [A-Za-z0-9-_.] that start and end alphanumeric."""
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.fullmatch(value)))


def is_label_key(key: str) -> bool:
    """An optional DNS-subdomain prefix and `/`, then a name like a label value (not empty)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(name) and is_label_value(name)


# scp-like git remotes: git@github.com:acme/fraud.git
_SCP_REMOTE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+")


# `\s` in a str pattern is what str.isspace() is true for (Py_UNICODE_ISSPACE): one C scan of a URL
# instead of a Python step per character (every spec has a few URLs, checked by lint twice).
_SPACE = re.compile(r"\s")


# The URLs specs write: a lowercase scheme, a host of letters, digits, '.' and '-', a path of unreserved
# characters. urlsplit gives each that scheme and a non-empty host; asking it costs ~9 us for a URL it has
# not cached (each spec's repository URL is its own), the pattern under 1 us (tests/test_units_fast_paths.py).
_PLAIN_URL = re.compile(r"([a-z]+)://[A-Za-z0-9.-]+(?:/[A-Za-z0-9._~/-]*)?")


def _url_with_host(text: str, schemes: tuple[str, ...]) -> bool:
    plain = _PLAIN_URL.fullmatch(text)
    if plain:
        return plain.group(1) in schemes
    return _split_url_with_host(text, schemes)


def _split_url_with_host(text: str, schemes: tuple[str, ...]) -> bool:
    if _SPACE.search(text):
        return False
    try:
        parts = urlsplit(text)
        return parts.scheme in schemes and bool(parts.hostname)
    except ValueError:  # e.g. an invalid port or IPv6 literal
        return False


# Remembered: the specs of a run share their runbook URLs (and lint asks twice: validation, string rules).
@lru_cache(maxsize=1024)
def is_web_url(text: str) -> bool:
    """An http(s) URL with a host: the only links that may reach alerts and the model card."""
    return _url_with_host(text, ("http", "https"))


def is_repository_url(text: str) -> bool:
    """A git remote: http(s), ssh://, or the scp-like git@host:path form."""
    return bool(_SCP_REMOTE.fullmatch(text)) or _url_with_host(text, ("http", "https", "ssh"))
