"""PromQL text built from untrusted spec values: string literals, regex literals, selectors.

Every value that reaches a query goes through `quote` (a PromQL double-quoted string, Go escaping) or
`regex_alternation` (RE2-escaped, then quoted), so a feature named `a"} or vector(1) #` stays a label
value. Core code (the rollout gate, the serving-stack contracts) and the prometheus target share these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# regexp.QuoteMeta's set: RE2 rejects escapes of other characters such as a space.
_REGEX_META = frozenset("\\.+*?()|[]{}^$")
_PLAIN = re.compile(r'[^\\"\x00-\x1f\x7f]*')


@lru_cache(maxsize=8192)
def quote(value: str) -> str:
    """A PromQL string literal holding exactly `value`."""
    if _PLAIN.fullmatch(value):  # the common case: nothing to escape (and lint calls this ~100k times)
        return f'"{value}"'
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def quote_meta(value: str) -> str:
    return "".join("\\" + c if c in _REGEX_META else c for c in value)


def regex_alternation(values: Iterable[str]) -> str:
    """A quoted RE2 literal matching exactly one of `values` (Prometheus anchors label regexes)."""
    return quote("|".join(quote_meta(v) for v in values))


def selector(metric: str, matchers: Mapping[str, str], regex: Mapping[str, Iterable[str]] | None = None) -> str:
    parts = [f"{name}={quote(value)}" for name, value in matchers.items()]
    for name, values in (regex or {}).items():
        parts.append(f"{name}=~{regex_alternation(values)}")
    return metric + "{" + ", ".join(parts) + "}"


def raw_selector(metric: str, matchers: Mapping[str, str], regex: Mapping[str, str]) -> str:
    """Like `selector`, with regexes given as RE2 text (already escaped where it holds spec values)."""
    parts = [f"{name}={quote(value)}" for name, value in matchers.items()]
    parts += [f"{name}=~{quote(value)}" for name, value in regex.items()]
    return metric + "{" + ", ".join(parts) + "}"


def number(value: float) -> str:
    """A float literal that round-trips (no exponent surprises, no trailing noise from ratios)."""
    if value == 0:  # 0.0 and -0.0 are one cache key: the text would depend on which came first
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return _number(value)


@lru_cache(maxsize=8192)  # thresholds and scenario rates: ~60 calls a spec on few distinct values
def _number(value: float) -> str:
    text = repr(float(round(value, 12)))
    return text[:-2] if text.endswith(".0") else text
