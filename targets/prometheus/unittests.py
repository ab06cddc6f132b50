"""promtool unit tests (`promtool test rules`) generated from the scenarios each alert was built with.

One test group per alert and scenario, each with its own input series, so a scenario proves exactly
one thing: the alert fires with the expected labels and annotations, or stays silent. promtool lists
only firing alerts, so a silent scenario expects an empty list.
"""

from __future__ import annotations

import re
from typing import Any

from compiler.language.units import duration_seconds, format_duration
from targets.prometheus.ruleset import TEST_INTERVAL, Alert, RuleSet, Scenario, expand

# Rule evaluation steps per test file: every scenario is a steady state from time 0, so only `for:`
# needs resolution, and a monitor with a 7d window must not cost 20,000 evaluations of every rule.
MAX_STEPS = 60
EVALUATION_INTERVALS = (60, 300, 600, 1800, 3600, 7200, 21600, 86400)


def evaluation_interval(rules: RuleSet) -> int:
    longest = max((sc.eval_seconds for a in rules.alerts for sc in a.scenarios), default=0)
    return next((i for i in EVALUATION_INTERVALS if longest / i <= MAX_STEPS), EVALUATION_INTERVALS[-1])


def eval_at(scenario: Scenario, interval: int) -> int:
    """An evaluation step two steps past the scenario's minimum time: one for rate() to see two
    samples, one so `for:` has elapsed strictly before the step promtool reads alerts at."""
    return -(-(scenario.eval_seconds + 2 * interval) // interval) * interval


_STEPS = re.compile(r"x\d+$")


def _extend(values: str, until: int) -> str:
    """Series notation `a+bxN` with N long enough to cover `until` seconds at the series interval."""
    return _STEPS.sub(f"x{until // duration_seconds(TEST_INTERVAL) + 2}", values)


def _case(alert: Alert, scenario: Scenario, interval: int) -> dict[str, Any]:
    expected = []
    for extra in scenario.firing:
        labels = {**alert.labels, **extra}
        expected.append({
            "exp_labels": dict(sorted(labels.items())),
            "exp_annotations": {k: expand(v, labels) for k, v in sorted(alert.annotations.items())},
        })
    return {
        "name": f"{alert.name} ({alert.monitor}): {scenario.name}",
        "interval": TEST_INTERVAL,
        "input_series": [{"series": s.series, "values": _extend(s.values, eval_at(scenario, interval))}
                         for s in scenario.series],
        "alert_rule_test": [{
            "eval_time": format_duration(eval_at(scenario, interval) * 1000),
            "alertname": alert.name,
            "exp_alerts": expected,
        }],
    }


def test_file(rules: RuleSet, rule_file: str) -> dict[str, Any]:
    interval = evaluation_interval(rules)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(interval * 1000),
        "tests": [_case(alert, scenario, interval) for alert in rules.alerts for scenario in alert.scenarios],
    }


def count(rules: RuleSet) -> int:
    return sum(len(alert.scenarios) for alert in rules.alerts)
