"""The spec's SLO monitors as OpenSLO `openslo/v1` documents, next to the rules that enforce them.

Per model and environment, `openslo.yaml` holds a Service (the model in that environment) and, for each
`kind: slo` monitor, an SLI and an SLO referring to it. The SLI is a `ratioMetric` with `raw` of
`rawType: failure`: its query is, byte for byte, the expression of the recording rule
`ml:slo_errors:ratio_rate<shortest window>` that this target renders for the same monitor (taken from the
built RuleSet, never rebuilt), so SLO tooling and the burn-rate alerts measure the same thing. Because that
query is already a ratio over its window, the SLO budgets by `RatioTimeslices` with the window as the
time slice; the objective and the rolling period come from the monitor.
Alert policies are the rules' burn-rate tiers (burnrate.py), one inline AlertPolicy each.

This lives in the prometheus target (a one-line registration in `render`) because the queries exist only
in its RuleSet; a separate target would have to import this one, which the independence contract forbids.
Field rules: the OpenSLO README (OpenSLO/OpenSLO) and the validation in OpenSLO/go-sdk `pkg/openslo/v1`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from compiler.language.units import duration_seconds
from compiler.planning.plan import MonitorPlan
from compiler.render.plugins import OutputFile
from targets.prometheus import burnrate
from targets.prometheus.ruleset import RuleSet

FILE = "openslo.yaml"
API_VERSION = "openslo/v1"
RECORD = "ml:slo_errors:ratio_rate"
ANNOTATION = "mlspec.dev/recording-rule"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# duration-shorthand units, largest first. Days rather than weeks, as periods are usually written (28d);
# OpenSLO leaves the length of M, Q and Y to each implementation, so they are never used.
_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def object_name(*parts: str) -> str:
    """An RFC 1123 label (what every implementation must accept): joined parts, shortened with a digest."""
    name = "-".join(parts)
    if len(name) <= 63 and _LABEL.fullmatch(name):
        return name
    clean = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{clean[:54].rstrip('-')}-{digest}"


def shorthand(seconds: int) -> str:
    """A duration-shorthand in the largest unit that divides it: 30d, 28d, 90m."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{max(seconds // 60, 1)}m"


def _sli_record(rules: RuleSet, monitor: MonitorPlan) -> tuple[str, dict[str, Any]] | None:
    """The shortest-window SLO error-ratio recording rule of this monitor, with its window."""
    windows = burnrate.windows(burnrate.tiers(monitor.objective or 0, monitor.period_seconds or 0))
    for window in windows:
        for record in rules.records:
            if record["record"] == f"{RECORD}{window}" and record["labels"].get("slo") == monitor.name:
                return window, record
    return None


def alert_policies(monitor: MonitorPlan, name: str) -> list[dict[str, Any]]:
    """One inline AlertPolicy per burn-rate tier the rules alert on (same tiers, same severities).

    OpenSLO's burnrate condition has one lookback window; the rules also require the tier's short window
    and a minimum request rate, which the description states.
    """
    assert monitor.objective is not None
    assert monitor.period_seconds is not None
    after = duration_seconds(monitor.for_)
    target = {"kind": "AlertNotificationTarget", "metadata": {"name": object_name("team", monitor.team)},
              "spec": {"target": "alertmanager",
                       "description": f"Alertmanager routes the rules' alerts by the label team={monitor.team}."}}
    out = []
    for tier in burnrate.tiers(monitor.objective, monitor.period_seconds):
        page = "page" if tier.page else "ticket"
        severity = monitor.severity if tier.page or monitor.severity != "critical" else "warning"
        condition: dict[str, Any] = {"kind": "burnrate", "op": "gt", "threshold": tier.factor,
                                     "lookbackWindow": tier.long}
        if after:
            condition["alertAfter"] = shorthand(after)
        out.append({
            "kind": "AlertPolicy",
            "metadata": {"name": object_name(name, page, tier.long)},
            "spec": {
                "description": f"{page.capitalize()}: the error budget burns faster than {tier.factor:g}x over "
                               f"{tier.long}, confirmed over {tier.short}, with enough traffic (rules.yaml).",
                "alertWhenBreaching": True,
                "alertWhenResolved": False,
                "alertWhenNoData": False,
                "conditions": [{"kind": "AlertCondition", "metadata": {"name": object_name(name, "burn", tier.long)},
                                "spec": {"severity": severity, "condition": condition}}],
                "notificationTargets": [target],
            },
        })
    return out


def documents(rules: RuleSet) -> list[dict[str, Any]]:
    plan, env = rules.plan, rules.env
    service = object_name(plan.name, env.name)
    labels = {"model": plan.name, "environment": env.name, "team": plan.team}
    slos: list[dict[str, Any]] = []
    for monitor in plan.monitors:
        if monitor.kind != "slo" or monitor.objective is None or not monitor.period_seconds:
            continue
        found = _sli_record(rules, monitor)
        if found is None:
            continue  # no rules for it (no live traffic, or no burn-rate tier): nothing to measure against
        window, record = found
        name = object_name(plan.name, env.name, monitor.name)
        what = "requests slower than the latency threshold" if monitor.sli == "latency" else "failed requests"
        sli = {
            "apiVersion": API_VERSION, "kind": "SLI",
            "metadata": {"name": name, "labels": {**labels, "monitor": monitor.name},
                         "annotations": {ANNOTATION: record["record"]}},
            "spec": {
                "description": f"Share of {what} of {plan.name} in {env.name} over {window}.",
                "ratioMetric": {
                    "counter": False,
                    "rawType": "failure",
                    "raw": {"metricSource": {"type": "Prometheus", "spec": {"query": record["expr"]}}},
                },
            },
        }
        policies = alert_policies(monitor, name)
        slo = {
            "apiVersion": API_VERSION, "kind": "SLO",
            "metadata": {"name": name, "labels": {**labels, "monitor": monitor.name}},
            "spec": {
                "description": (monitor.description or f"{monitor.name} of {plan.name} in {env.name}")[:1050],
                "service": service,
                "indicatorRef": name,
                "timeWindow": [{"duration": shorthand(monitor.period_seconds), "isRolling": True}],
                "budgetingMethod": "RatioTimeslices",
                "objectives": [{
                    "displayName": monitor.name,
                    "target": float(burnrate.objective_fraction(monitor.objective)),
                    "timeSliceWindow": window,
                }],
                **({"alertPolicies": policies} if policies else {}),
            },
        }
        slos += [sli, slo]
    if not slos:
        return []
    head = {"apiVersion": API_VERSION, "kind": "Service",
            "metadata": {"name": service, "labels": labels},
            "spec": {"description": f"{plan.name} serving in {env.name} (namespace {env.namespace})."[:1050]}}
    return [head, *slos]


def files(rules: RuleSet, base: str) -> list[OutputFile]:
    docs = documents(rules)
    return [OutputFile(f"{base}/{FILE}", "yaml", docs)] if docs else []
