"""The PromQL parse memo (targets.prometheus.promql.check): an expression is accepted from the memo only
when one of the same shape parsed, so the shape must never join a text that parses with one that does not."""

from __future__ import annotations

import promql_parser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targets.prometheus import promql
from targets.prometheus.promql import PromQLError, check, shape

# Where a string literal can stand in PromQL, with operators and label names the shape reads.
TEMPLATES = [
    'm{{{l}="{v}"}}', '{{{l}="{v}"}}', '{{{l}!="{v}"}}', '{{{l}=~"{v}"}}', '{{{l}!~"{v}"}}', 'm{{{l}=~"{v}"}}',
    'm{{{l} = "{v}", {l}=~"{w}"}}', '{{{l}="{v}", b!~"{w}"}}', 'sum(rate(m{{{l}="{v}"}}[5m])) > 0.5',
    'x {l}= "{v}"', 'x != "{v}"', 'x == "{v}"', 'x >= "{v}"', 'label_replace(m, "{v}", "{w}", "{l}", "{w}")',
    'count_values("{v}", m)', 'm{{{l}="{v}"}} # "{w}"', "m{{{l}='{v}'}}", 'm{{{l}="{v}\\"{w}"}}',
    'ml:r{{{l}="{v}"}} and on () {{{l}=~"{w}"}}',
]
LABELS = st.sampled_from(["a", "model_name", "__name__", "on", "by", "_x", "9a", "le"])
VALUES = st.one_of(
    st.sampled_from(["", "x", "model-0001", "a|b", "a|", "|", ".*", "a.b", "(", "a b", "\\q", "\\\"", "é", "$", " "]),
    st.text(alphabet=st.sampled_from(list("ab9_-:|.*()[]{}^$+? \\\"'#`=é\n")), max_size=6),
)


def parses(expr: str) -> bool:
    try:
        promql_parser.parse(expr)
    except Exception:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(TEMPLATES), LABELS, VALUES, VALUES)
def test_an_expression_parses_exactly_when_its_shape_does(template: str, label: str, v: str, w: str) -> None:
    expr = template.format(l=label, v=v, w=w)
    key = shape(expr)
    if key is None:
        return
    assert parses(expr) == parses(key), (expr, key)
    assert shape(key) == key  # one representative per shape: equal shapes parse alike


def test_the_memo_never_accepts_what_does_not_parse() -> None:
    promql._PARSED.clear()
    assert check('m{a="model-0001"}') == 'm{a="model-0001"}'
    assert check('m{a="model-0002"}') == 'm{a="model-0002"}'  # from the memo
    assert shape('m{a="model-0002"}') in promql._PARSED
    for bad in ('{a=""}', '{a=~"a|"}', 'm{a=~"("}', 'm{a="\\q"}', 'm{a="x"} == "y"', '{__name__="x"}{a="y"}'):
        with pytest.raises(PromQLError):
            check(bad)
    assert check('{a="model-0001"}') == '{a="model-0001"}'  # the same parse, without a metric name


def test_label_values_of_one_kind_share_a_shape() -> None:
    one = 'sum(rate(m{namespace="ops-ml-staging", model_name="model-0001", f=~"age|income"}[5m]))'
    two = 'sum(rate(m{namespace="ads-ml-prod", model_name="model-0999", f=~"zip_code"}[5m]))'
    assert shape(one) == shape(two) == 'sum(rate(m{namespace="x", model_name="x", f=~"x"}[5m]))'
