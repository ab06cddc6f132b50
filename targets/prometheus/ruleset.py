"""Rules as data: alerts built with the promtool scenarios that prove them, recording rules, and the
rule set of one model in one environment; plus the promtool series notation the scenarios use.

Every alert carries its scenarios (the input series that make it fire and the ones that keep it
silent), so targets.prometheus.unittests writes them out without knowing any monitor kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from compiler.monitoring.serving_metrics import Stack
from compiler.planning.plan import EnvironmentPlan, MonitorPlan, Plan
from targets.prometheus.promql import number, template_literal

TEST_INTERVAL = "1m"


@dataclass(frozen=True, slots=True)
class Series:
    series: str
    values: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str  # fires | healthy | low-traffic | ...
    series: tuple[Series, ...]
    eval_seconds: int
    firing: tuple[Mapping[str, str], ...]  # labels each firing alert adds to the rule's; () = silent


@dataclass(slots=True)
class Alert:
    name: str
    monitor: str
    expr: str
    for_: str
    labels: dict[str, str]  # raw values (the rule gets them template-escaped)
    annotations: dict[str, str]  # templates
    scenarios: list[Scenario]
    keep_firing_for: str | None = None

    def rule(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.name, "expr": self.expr, "for": self.for_}
        if self.keep_firing_for:
            out["keep_firing_for"] = self.keep_firing_for
        out["labels"] = {k: template_literal(v) for k, v in self.labels.items()}
        out["annotations"] = dict(self.annotations)
        return out


@dataclass(slots=True)
class Group:
    name: str
    monitor: str
    records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass(slots=True)
class RuleSet:
    plan: Plan
    env: EnvironmentPlan
    stack: Stack  # the serving stack whose series the rules read
    live: bool  # the model serves live traffic (the live monitor kinds apply)
    groups: list[Group]
    skipped: list[tuple[int, str]]  # (monitor index, why) for monitors that got no rules
    # (monitor index, why, hint) for live monitors whose series the model's runtime does not export
    unsupported: list[tuple[int, str, str]] = field(default_factory=list)
    monitors: list[tuple[int, MonitorPlan]] = field(default_factory=list)  # as applied to `env`

    def data(self) -> dict[str, Any]:
        """One rule group: rules in a group run in order, so every alert reads recordings made in the
        same evaluation. Across groups the order is unspecified (promtool even shuffles it), and an
        alert would read a recording one interval old, or none at all once that exceeds the lookback."""
        rules = [*self.records, *(a.rule() for a in self.alerts)]
        return {"groups": [{"name": f"mlspec.{self.plan.name}.{self.env.name}", "rules": rules}] if rules else []}

    @property
    def alerts(self) -> list[Alert]:
        return [a for g in self.groups for a in g.alerts]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for g in self.groups for r in g.records]


@lru_cache(maxsize=4096)  # alert names: a few hundred monitor and family names, ~13 calls a spec
def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def counter(per_second: float, eval_seconds: int) -> str:
    """promtool series notation for a counter growing at `per_second` until past `eval_seconds`."""
    steps = eval_seconds // 60 + 2
    return f"0+{number(per_second * 60)}x{steps}"


def gauge(value: float, eval_seconds: int) -> str:
    return f"{number(value)}+0x{eval_seconds // 60 + 2}"


_TEMPLATE = re.compile(r'\{\{ (?:"(\{\{)"|\$labels\.([A-Za-z_][A-Za-z0-9_]*)) \}\}')


def expand(template: str, labels: Mapping[str, str]) -> str:
    """What Prometheus prints for the only template constructs this target writes."""
    return _TEMPLATE.sub(lambda m: m.group(1) or labels.get(m.group(2), ""), template)
