"""PromQL text built from untrusted spec values: string literals, regex literals, selectors, templates.

The quoting helpers live in compiler.monitoring.promql (the rollout gate needs them too) and are re-exported
here. Alert labels and annotations are Go templates in Prometheus, so spec text placed there goes
through `template_literal`, which turns `{{` into an action that prints it.

`check` parses every generated expression (PRM900 is a bug in this target, never in the spec). The
expressions of one monitor kind differ from model to model only in their label values, so a successful
parse is remembered by the expression's `shape`: its text with every matcher value whose content cannot
change the parse replaced by one placeholder (the 2,769 parses of 200 specs' first environments are 56 shapes).
"""

from __future__ import annotations

import re

import promql_parser

from compiler.monitoring.promql import number, quote, quote_meta, raw_selector, regex_alternation, selector


class PromQLError(ValueError):
    """A generated expression that does not parse: a bug in this target, never in the spec."""


def template_literal(text: str) -> str:
    """Text that Prometheus' alert templating prints verbatim."""
    return text.replace("{{", '{{ "{{" }}')


# What ends the text before a matcher value, read backwards from the value's opening quote: the
# operator, then a whole label name. Not __name__: its value names the metric, which a parser may
# validate (promql_parser 0.x does not). `==`, `>=` and `<=` are no match: no name ends before `=`.
_OPERATOR_REVERSED = re.compile(r'[ \t\n]*(~=|~!|=!|=)[ \t\n]*([A-Za-z0-9_]*[A-Za-z_])(?![A-Za-z0-9_:])')
# Matcher values whose content cannot change the parse. The parser asks of a value only whether it is
# empty (for a regex: matches the empty string) and whether a regex compiles. `=`/`!=`: non-empty
# printable ASCII (no quote or backslash, by construction below). `=~`/`!~`: alternations of
# non-empty words, which always compile and never match the empty string.
_PLAIN_VALUE = re.compile(r'[ -~]+')
_PLAIN_REGEX = re.compile(r'[A-Za-z0-9_:-]+(?:\|[A-Za-z0-9_:-]+)*')
_PARSED: set[str] = set()  # shapes known to parse, for the life of the process
_PARSED_MAX = 4096  # a few hundred in practice; the bound only keeps odd inputs from growing it


def shape(expr: str) -> str | None:
    """`expr` with each matcher value that cannot change whether it parses written `"x"`; None when the
    text cannot be lexed this simply (it is then parsed as written).

    Simply: no backslash (so no escape inside or outside a string), no quote but `"` and no comment
    (which could hide one). Then the text alternates between code and string literals at every `"`.
    """
    if "\\" in expr or "'" in expr or "`" in expr or "#" in expr:
        return None
    parts = expr.split('"')
    if len(parts) % 2 == 0:
        return None  # an unclosed string
    for i in range(1, len(parts), 2):
        operator = _OPERATOR_REVERSED.match(parts[i - 1][::-1])
        if operator is None or operator.group(2) == "__eman__":
            continue
        plain = _PLAIN_VALUE if operator.group(1) in ("=", "=!") else _PLAIN_REGEX
        if plain.fullmatch(parts[i]):
            parts[i] = "x"
    return '"'.join(parts)


def check(expr: str) -> str:
    """`expr` if promql_parser accepts it, else PromQLError."""
    key = shape(expr)
    if key is not None and key in _PARSED:
        return expr
    try:
        promql_parser.parse(expr)
    except Exception as exc:  # the Rust binding raises plain ValueError/RuntimeError variants
        raise PromQLError(f"generated PromQL does not parse: {exc}: {expr}") from exc
    if key is not None and len(_PARSED) < _PARSED_MAX:
        _PARSED.add(key)
    return expr


__all__ = ["PromQLError", "check", "number", "quote", "quote_meta", "raw_selector", "regex_alternation",
           "selector", "template_literal"]
