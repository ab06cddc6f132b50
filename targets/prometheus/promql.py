"""PromQL text built from untrusted spec values: string literals, regex literals, selectors, templates.

The quoting helpers live in compiler.monitoring.promql (the rollout gate needs them too) and are re-exported
here. Alert labels and annotations are Go templates in Prometheus, so spec text placed there goes
through `template_literal`, which turns `{{` into an action that prints it.
"""

from __future__ import annotations

import promql_parser

from compiler.monitoring.promql import number, quote, quote_meta, raw_selector, regex_alternation, selector


class PromQLError(ValueError):
    """A generated expression that does not parse: a bug in this target, never in the spec."""


def template_literal(text: str) -> str:
    """Text that Prometheus' alert templating prints verbatim."""
    return text.replace("{{", '{{ "{{" }}')


def check(expr: str) -> str:
    """`expr` if promql_parser accepts it, else PromQLError."""
    try:
        promql_parser.parse(expr)
    except Exception as exc:  # the Rust binding raises plain ValueError/RuntimeError variants
        raise PromQLError(f"generated PromQL does not parse: {exc}: {expr}") from exc
    return expr


__all__ = ["PromQLError", "check", "number", "quote", "quote_meta", "raw_selector", "regex_alternation",
           "selector", "template_literal"]
