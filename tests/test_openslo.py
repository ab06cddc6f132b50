"""OpenSLO export (targets/prometheus/openslo.py): the spec's SLO monitors as `openslo/v1` documents.

OpenSLO publishes no JSON Schema: the specification is prose (README.md of OpenSLO/OpenSLO, "Object
Types") and its reference validator is Go code (OpenSLO/go-sdk, `pkg/openslo/v1/{sli,slo,service}.go`,
govy rules). SCHEMA below is OUR READING of those two sources as a JSON Schema, written for these tests,
not an upstream artefact; the negative cases show it refuses what go-sdk refuses (exactly one of
indicator/indicatorRef, of total/raw, of good/bad; rawType with raw; target in [0, 1); timeSliceWindow for
RatioTimeslices; RFC 1123 names; one rolling or calendar time window; `spec` of a metric source non-empty).

The SLI queries are checked against the rendered rule files themselves (the same bytes as the recording
rule each SLI names) and evaluated by promtool on the rule tests' own burn-rate scenarios.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tools import require_tool, run_tool

from compiler.language.units import duration_seconds
from compiler.planning.plan import Plan
from golden import render_examples
from targets.prometheus import PrometheusTarget
from targets.prometheus.openslo import ANNOTATION, object_name, shorthand

TARGET = PrometheusTarget()

_NAME = {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
_DURATION = {"type": "string", "pattern": "^[1-9][0-9]*[mhdwMQY]$"}
_DESCRIPTION = {"type": "string", "maxLength": 1050}
_OP = {"enum": ["lte", "gte", "lt", "gt"]}
# optional DNS-subdomain prefix and `/`, then a name of at most 63 characters
_ANNOTATION_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                   r"[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$")
_METADATA = {
    "type": "object", "required": ["name"],
    "properties": {
        "name": _NAME, "displayName": {"type": "string"},
        "labels": {"type": "object",
                   "propertyNames": {"maxLength": 63, "pattern": "^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$"},
                   "additionalProperties": {"anyOf": [{"type": "string"},
                                                      {"type": "array", "items": {"type": "string"}}]}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"},
                        "propertyNames": {"pattern": _ANNOTATION_KEY}},
    },
    "additionalProperties": False,
}
_METRIC = {
    "type": "object", "required": ["metricSource"], "additionalProperties": False,
    "properties": {"metricSource": {
        "type": "object", "required": ["spec"], "additionalProperties": False,
        "properties": {"metricSourceRef": _NAME, "type": {"type": "string"},
                       "spec": {"type": "object", "minProperties": 1}}}},
}
_RATIO = {
    "type": "object", "additionalProperties": False,
    "properties": {"counter": {"type": "boolean"}, "good": _METRIC, "bad": _METRIC, "total": _METRIC,
                   "raw": _METRIC, "rawType": {"enum": ["success", "failure"]}},
    "oneOf": [
        {"required": ["total"], "not": {"anyOf": [{"required": ["raw"]}, {"required": ["rawType"]}]},
         "oneOf": [{"required": ["good"]}, {"required": ["bad"]}]},
        {"required": ["raw", "rawType"],
         "not": {"anyOf": [{"required": ["total"]}, {"required": ["good"]}, {"required": ["bad"]}]}},
    ],
}
_SLI_SPEC = {
    "type": "object", "additionalProperties": False,
    "properties": {"description": _DESCRIPTION, "thresholdMetric": _METRIC, "ratioMetric": _RATIO},
    "oneOf": [{"required": ["thresholdMetric"]}, {"required": ["ratioMetric"]}],
}
_OBJECTIVE = {
    "type": "object", "additionalProperties": False,
    "properties": {"displayName": {"type": "string"}, "op": _OP,
                   "value": {"type": "number"},
                   "target": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                   "targetPercent": {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
                   "timeSliceTarget": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                   "timeSliceWindow": _DURATION, "compositeWeight": {"type": "number", "exclusiveMinimum": 0}},
    "oneOf": [{"required": ["target"]}, {"required": ["targetPercent"]}],
}
_CONDITION = {
    "type": "object", "required": ["severity", "condition"], "additionalProperties": False,
    "properties": {
        "description": _DESCRIPTION, "severity": {"type": "string", "minLength": 1},
        "condition": {"type": "object", "required": ["kind", "op", "threshold", "lookbackWindow"],
                      "additionalProperties": False,
                      "properties": {"kind": {"const": "burnrate"}, "op": _OP, "threshold": {"type": "number"},
                                     "lookbackWindow": _DURATION, "alertAfter": _DURATION}}},
}
_ALERT_POLICY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "alertPolicyRef": _NAME, "kind": {"const": "AlertPolicy"}, "metadata": _METADATA,
        "spec": {"type": "object", "required": ["conditions", "notificationTargets"], "additionalProperties": False,
                 "properties": {
                     "description": _DESCRIPTION, "alertWhenNoData": {"type": "boolean"},
                     "alertWhenBreaching": {"type": "boolean"}, "alertWhenResolved": {"type": "boolean"},
                     "conditions": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"oneOf": [
                         {"type": "object", "required": ["conditionRef"], "additionalProperties": False,
                          "properties": {"conditionRef": _NAME}},
                         {"type": "object", "required": ["kind", "metadata", "spec"], "additionalProperties": False,
                          "properties": {"kind": {"const": "AlertCondition"}, "metadata": _METADATA,
                                         "spec": _CONDITION}}]}},
                     "notificationTargets": {"type": "array", "minItems": 1, "items": {"oneOf": [
                         {"type": "object", "required": ["targetRef"], "additionalProperties": False,
                          "properties": {"targetRef": _NAME}},
                         {"type": "object", "required": ["kind", "metadata", "spec"], "additionalProperties": False,
                          "properties": {"kind": {"const": "AlertNotificationTarget"}, "metadata": _METADATA,
                                         "spec": {"type": "object", "required": ["target"],
                                                  "additionalProperties": False,
                                                  "properties": {"target": {"type": "string", "minLength": 1},
                                                                 "description": _DESCRIPTION}}}}]}}}},
    },
    "oneOf": [{"required": ["alertPolicyRef"], "not": {"required": ["spec"]}},
              {"required": ["kind", "metadata", "spec"], "not": {"required": ["alertPolicyRef"]}}],
}
_SLO_SPEC = {
    "type": "object", "additionalProperties": False,
    "required": ["service", "budgetingMethod", "objectives"],
    "properties": {
        "description": _DESCRIPTION, "service": {"type": "string", "minLength": 1},
        "indicator": {"type": "object", "required": ["metadata", "spec"],
                      "properties": {"metadata": _METADATA, "spec": _SLI_SPEC}},
        "indicatorRef": _NAME,
        "budgetingMethod": {"enum": ["Occurrences", "Timeslices", "RatioTimeslices"]},
        "timeWindow": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
            "type": "object", "required": ["duration"], "additionalProperties": False,
            "properties": {"duration": _DURATION, "isRolling": {"type": "boolean"},
                           "calendar": {"type": "object", "required": ["startTime", "timeZone"]}},
            "oneOf": [{"properties": {"isRolling": {"const": True}}, "required": ["isRolling"],
                       "not": {"required": ["calendar"]}},
                      {"properties": {"isRolling": {"const": False}}, "required": ["calendar"]}]}},
        "objectives": {"type": "array", "minItems": 1, "items": _OBJECTIVE},
        "alertPolicies": {"type": "array", "items": _ALERT_POLICY},
    },
    "oneOf": [{"required": ["indicator"]}, {"required": ["indicatorRef"]}],
    "allOf": [
        {"if": {"properties": {"budgetingMethod": {"const": "RatioTimeslices"}}},
         "then": {"properties": {"objectives": {"items": {"required": ["timeSliceWindow"]}}}}},
        {"if": {"properties": {"budgetingMethod": {"const": "Timeslices"}}},
         "then": {"properties": {"objectives": {"items": {"required": ["timeSliceWindow", "timeSliceTarget"]}}}}},
    ],
}


def _object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
            "properties": {"apiVersion": {"const": "openslo/v1"}, "kind": {"const": kind},
                           "metadata": _METADATA, "spec": spec}}


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "oneOf": [_object("Service", {"type": "object", "additionalProperties": False,
                                  "properties": {"description": _DESCRIPTION}}),
              _object("SLI", _SLI_SPEC), _object("SLO", _SLO_SPEC)],
}
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@cache
def _rendered() -> tuple[dict[str, bytes], tuple[Plan, ...]]:
    result = render_examples(TARGET)
    return result.files(), tuple(s.plan for s in result.specs if s.plan is not None)


def _openslo() -> dict[str, list[dict[str, Any]]]:
    files, _ = _rendered()
    return {path: list(yaml.safe_load_all(data)) for path, data in files.items() if path.endswith("/openslo.yaml")}


def problems(docs: list[dict[str, Any]]) -> list[str]:
    found = [f"{doc.get('kind')}: {e.message}" for doc in docs for e in VALIDATOR.iter_errors(doc)]
    names = {(d.get("kind"), d.get("metadata", {}).get("name")) for d in docs}
    for doc in docs:
        spec = doc.get("spec", {})
        if doc.get("kind") == "SLO":
            if "indicatorRef" in spec and ("SLI", spec["indicatorRef"]) not in names:
                found.append(f"SLO {doc['metadata']['name']}: indicatorRef {spec['indicatorRef']} is not in the file")
            if ("Service", spec.get("service")) not in names:
                found.append(f"SLO {doc['metadata']['name']}: service {spec.get('service')} is not in the file")
    if len(names) != len(docs):
        found.append("two objects of one kind share a name")
    return found


def test_every_live_slo_monitor_is_exported_and_valid() -> None:
    _files, plans = _rendered()
    exported = _openslo()
    for plan in plans:
        slos = [m.name for m in plan.monitors if m.kind == "slo"]
        for env in plan.serving.environments:
            path = f"models/{plan.name}/prometheus/{env.name}/openslo.yaml"
            if not slos:
                assert path not in exported, path
                continue
            docs = exported[path]
            assert problems(docs) == [], path
            got = [d["metadata"]["labels"]["monitor"] for d in docs if d["kind"] == "SLO"]
            assert got == slos, path
    assert len(exported) >= 4  # fraud-detector and support-assistant, two environments each


def test_sli_query_is_the_recording_rule_the_rules_file_renders() -> None:
    files, plans = _rendered()
    by_name = {p.name: p for p in plans}
    checked = 0
    for path, docs in _openslo().items():
        rules = yaml.safe_load(files[path.replace("openslo.yaml", "rules.yaml")])
        records = [r for g in rules["groups"] for r in g["rules"] if "record" in r]
        plan = by_name[path.split("/")[1]]
        for sli in (d for d in docs if d["kind"] == "SLI"):
            monitor = plan.monitor(sli["metadata"]["labels"]["monitor"])
            record = next(r for r in records if r["record"] == sli["metadata"]["annotations"][ANNOTATION]
                          and r["labels"].get("slo") == monitor.name)
            query = sli["spec"]["ratioMetric"]["raw"]["metricSource"]["spec"]["query"]
            assert query == record["expr"]
            assert sli["spec"]["ratioMetric"]["rawType"] == "failure"
            slo = next(d for d in docs if d["kind"] == "SLO" and d["spec"]["indicatorRef"] == sli["metadata"]["name"])
            objective = slo["spec"]["objectives"][0]
            assert objective["target"] == pytest.approx(monitor.objective)
            assert record["record"].endswith(objective["timeSliceWindow"])  # the slice is the ratio's window
            assert slo["spec"]["timeWindow"] == [{"duration": shorthand(monitor.period_seconds or 0),
                                                 "isRolling": True}]
            checked += 1
    assert checked >= 6  # fraud-detector: availability; support-assistant: availability and latency


def _valid() -> list[dict[str, Any]]:
    return copy.deepcopy(_openslo()["models/fraud-detector/prometheus/production/openslo.yaml"])


def _broken(edit: Any) -> list[str]:
    docs = _valid()
    edit({d["kind"]: d for d in docs})
    return problems(docs)


def test_checker_refuses_what_the_openslo_validator_refuses() -> None:
    assert problems(_valid()) == []
    cases = [
        lambda o: o["SLI"]["spec"]["ratioMetric"].pop("rawType"),
        lambda o: o["SLI"]["spec"]["ratioMetric"].update(total=o["SLI"]["spec"]["ratioMetric"]["raw"]),
        lambda o: o["SLI"]["spec"]["ratioMetric"].update(rawType="errors"),
        lambda o: o["SLI"]["spec"]["ratioMetric"]["raw"]["metricSource"].update(spec={}),
        lambda o: o["SLI"]["spec"].update(thresholdMetric=o["SLI"]["spec"]["ratioMetric"]["raw"]),
        lambda o: o["SLO"]["spec"].pop("budgetingMethod"),
        lambda o: o["SLO"]["spec"]["objectives"][0].update(target=1.0),
        lambda o: o["SLO"]["spec"]["objectives"][0].update(targetPercent=99.9),
        lambda o: o["SLO"]["spec"]["objectives"][0].pop("timeSliceWindow"),
        lambda o: o["SLO"]["spec"]["timeWindow"][0].update(duration="30 days"),
        lambda o: o["SLO"]["spec"]["timeWindow"][0].update(isRolling=False),
        lambda o: o["SLO"]["spec"].update(indicator={"metadata": {"name": "x"}, "spec": o["SLI"]["spec"]}),
        lambda o: o["SLO"]["spec"].update(indicatorRef="not-there"),
        lambda o: o["SLO"]["metadata"].update(name="Fraud_Detector"),
        lambda o: o["SLO"]["metadata"].update(name="x" * 64),
        lambda o: o["Service"]["spec"].update(description="d" * 1051),
        lambda o: o["SLO"]["spec"]["alertPolicies"][0]["spec"]["conditions"].append({"conditionRef": "x"}),
        lambda o: o["SLO"]["spec"]["alertPolicies"][0]["spec"].update(notificationTargets=[]),
        lambda o: o["SLO"]["spec"]["alertPolicies"][0]["spec"]["conditions"][0]["spec"]["condition"].pop("op"),
        lambda o: o["SLO"]["spec"]["alertPolicies"][0]["spec"]["conditions"][0]["spec"]["condition"].update(
            lookbackWindow="90s"),
        lambda o: o["SLO"]["spec"]["alertPolicies"][0]["spec"]["conditions"][0]["spec"].pop("severity"),
    ]
    for index, edit in enumerate(cases):
        assert _broken(edit), f"case {index} was accepted"


def test_object_names_stay_rfc1123_labels() -> None:
    assert object_name("fraud-detector", "production", "availability") == "fraud-detector-production-availability"
    long = object_name("m" * 40, "production", "a" * 40)
    assert len(long) <= 63
    assert VALIDATOR.is_valid(
        {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": long}, "spec": {}})
    assert long != object_name("m" * 40, "production", "a" * 39 + "b")
    assert [shorthand(s) for s in (2592000, 2419200, 5400, 3600, 90)] == ["30d", "28d", "90m", "1h", "1m"]


def test_validate_and_gitops_leave_openslo_files_alone() -> None:
    """`mlspec validate` must not call OpenSLO objects unknown Kubernetes kinds (they are no API objects),
    and the gitops layout must not list them for Argo CD or Flux to apply."""
    from compiler.validation.tree import OPENSLO, classify, validate_documents
    from targets.gitops.layout import scan

    files, _ = _rendered()
    for path, docs in _openslo().items():
        assert {classify(d, path) for d in docs} == {OPENSLO}
        assert validate_documents(docs, None, file=path) == []
    tree = scan(files)
    assert not [p for p in tree.manifests if p.endswith("/openslo.yaml")]
    assert any(p.endswith("/prometheusrule.yaml") for p in tree.manifests)


def test_sli_queries_measure_the_failure_ratio_in_promtool(tmp_path: Path) -> None:
    """Prometheus' own engine (promtool) evaluates every SLI query on the series of the rule tests'
    burn-rate scenarios: all requests failing (or slow) reads 1, a healthy service reads 0, which is
    what `rawType: failure` tells SLO tooling the query means."""
    promtool = require_tool("promtool")
    files, _ = _rendered()
    cases = 0
    for path, docs in _openslo().items():
        folder = tmp_path / path.rsplit("/", 1)[0]
        folder.mkdir(parents=True)
        (folder / "rules.yaml").write_bytes(files[path.replace("openslo.yaml", "rules.yaml")])
        rule_tests = yaml.safe_load(files[path.replace("openslo.yaml", "rules.test.yaml")])["tests"]
        tests = []
        for sli in (d for d in docs if d["kind"] == "SLI"):
            monitor = sli["metadata"]["labels"]["monitor"]
            query = sli["spec"]["ratioMetric"]["raw"]["metricSource"]["spec"]["query"]
            for scenario, value in (("fires", 1), ("healthy", 0)):
                source = next(t for t in rule_tests if t["name"].endswith(f"BurnRatePage ({monitor}): {scenario}"))
                eval_time = source["alert_rule_test"][0]["eval_time"]
                tests.append({"name": f"{monitor}: {scenario}", "interval": source["interval"],
                              "input_series": source["input_series"],
                              "promql_expr_test": [{"expr": query, "eval_time": eval_time,
                                                    "exp_samples": [{"labels": "{}", "value": value}]}]})
                cases += 1
        (folder / "sli.test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": tests}))
        result = run_tool([promtool, "test", "rules", folder / "sli.test.yaml"], cwd=folder)
        assert result.returncode == 0, path + "\n" + result.stdout + result.stderr
    assert cases >= 12


def test_alert_policies_are_the_rules_burn_rate_tiers() -> None:
    """Each AlertPolicy is one tier of the rendered burn-rate alerts: its factor times the error budget is
    the threshold the rule compares the same window's recorded ratio with, and alertAfter is the rule's `for`."""
    files, plans = _rendered()
    by_name = {p.name: p for p in plans}
    checked = 0
    for path, docs in _openslo().items():
        rules = yaml.safe_load(files[path.replace("openslo.yaml", "rules.yaml")])
        alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
        plan = by_name[path.split("/")[1]]
        for slo in (d for d in docs if d["kind"] == "SLO"):
            monitor = plan.monitor(slo["metadata"]["labels"]["monitor"])
            budget = 1 - slo["spec"]["objectives"][0]["target"]
            mine = [a for a in alerts if a["labels"].get("monitor") == monitor.name]
            assert slo["spec"]["alertPolicies"]
            for policy in slo["spec"]["alertPolicies"]:
                spec = policy["spec"]["conditions"][0]["spec"]
                condition = spec["condition"]
                suffix = "BurnRatePage" if policy["metadata"]["name"].split("-")[-2] == "page" else "BurnRateTicket"
                rule = next(a for a in mine if a["alert"].endswith(suffix))
                window = condition["lookbackWindow"]
                compared = re.findall(rf"ml:slo_errors:ratio_rate{window}{{[^}}]*}} > ([0-9.e-]+)", rule["expr"])
                assert compared, (rule["expr"], window)
                assert float(compared[0]) == pytest.approx(condition["threshold"] * budget, rel=1e-9)
                assert spec["severity"] == rule["labels"]["severity"]
                assert condition["alertAfter"] == shorthand(duration_seconds(rule["for"]))
                checked += 1
    assert checked >= 12
