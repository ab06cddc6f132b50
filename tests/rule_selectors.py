"""The series rendered Prometheus rules select, checked against a real exporter's /metrics.

`selectors(rule_file_text)` parses every rule expression with promql-parser and returns its vector
selectors; `unmatched(selector, exposition)` says why no exposed series satisfies one. Labels the
scrape adds (the target's namespace, pod, ...) are not in an exposition, so matchers on them are left
to the scrape configuration; a matcher on any other label must hold on an exposed series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser
import yaml

# Target labels Kubernetes service discovery relabelling commonly adds; never in an exposition.
SCRAPE_LABELS = frozenset({"namespace", "pod", "container", "service", "job", "instance", "endpoint"})


@dataclass(frozen=True)
class Selector:
    rule: str  # the alert or record name
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value), op one of = != =~ !~

    def __str__(self) -> str:
        inner = ", ".join(f'{n}{op}"{v}"' for n, op, v in self.matchers)
        return f"{self.metric}{{{inner}}}"


_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def _walk(node: Any) -> list[Any]:
    found = []
    if isinstance(node, promql_parser.VectorSelector):
        return [node]
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    for attr in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            found += _walk(child)
    for child in getattr(node, "args", None) or []:
        found += _walk(child)
    return found


def selectors(rule_file_text: str) -> list[Selector]:
    out = []
    for group in yaml.safe_load(rule_file_text)["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            for vs in _walk(promql_parser.parse(rule["expr"])):
                matchers = tuple((m.name, _OPS[str(m.op).rsplit(".", 1)[-1]], m.value)
                                 for m in vs.matchers.matchers if m.name != "__name__")
                metric = vs.name or next((m.value for m in vs.matchers.matchers if m.name == "__name__"), "")
                out.append(Selector(name, metric, matchers))
    return out


def series(exposition: str) -> list[tuple[str, dict[str, str]]]:
    """(name, labels) of every sample in a Prometheus text exposition."""
    # prometheus_client's own parser (it comes with kserve, a dev extra): imported here so that
    # collecting the tests never fails where it is missing (they report it through tools.unavailable).
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.name, dict(s.labels)) for family in text_string_to_metric_families(exposition)
            for s in family.samples]


def _holds(op: str, expected: str, actual: str) -> bool:
    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    found = re.fullmatch(expected, actual) is not None  # PromQL regexes are fully anchored
    return found if op == "=~" else not found


def matches(selector: Selector, exposed: list[tuple[str, dict[str, str]]]) -> list[dict[str, str]]:
    """The exposed samples the selector selects, ignoring matchers on scrape-added labels."""
    return [labels for name, labels in exposed if name == selector.metric and all(
        _holds(op, value, labels.get(label, "")) for label, op, value in selector.matchers
        if label not in SCRAPE_LABELS)]
