"""The prometheus target's one dispatch table: every monitor kind of the spec language has exactly one
rule builder, so a new kind cannot be added to the language and forgotten here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any, get_args

from family import render
from rule_selectors import selectors

from compiler.language import spec
from golden import REPO
from targets.prometheus import contract, rules


def spec_kinds() -> list[str]:
    """The `kind` literal of every member of the spec's Monitor union."""
    union = get_args(spec.Monitor)[0]
    return sorted(kind for model in get_args(union) for kind in get_args(model.model_fields["kind"].annotation))


def table_keys() -> list[str]:
    """The keys as written in the KINDS literal: a repeated key would silently replace the first."""
    tree = ast.parse(inspect.getsource(rules))
    (table,) = [node.value for node in ast.walk(tree)
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "KINDS"]
    assert isinstance(table, ast.Call)
    (literal,) = table.args
    assert isinstance(literal, ast.Dict)
    return [key.value for key in literal.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)]


def test_every_monitor_kind_has_exactly_one_entry() -> None:
    kinds = spec_kinds()
    assert len(kinds) == len(set(kinds)) == 12
    written = table_keys()
    assert sorted(written) == sorted(set(written)), f"repeated in KINDS: {written}"
    assert sorted(written) == kinds == sorted(rules.KINDS)


def test_each_entry_is_its_family_modules_builder() -> None:
    for name, kind in rules.KINDS.items():
        builder = kind.rules
        assert builder.__module__.startswith("targets.prometheus.monitors."), (name, builder.__module__)
        assert builder.__name__ == name, f"{name} is built by {builder.__qualname__}: name builders after the kind"
        assert kind.job is None or kind.job in contract.LAST_RUN, (name, kind.job)
        assert not (kind.live and kind.job), f"{name}: live traffic or a batch job's series, not both"


# Families proven inside other families' tests: the staleness alerts of each batch job.
PROVEN_ELSEWHERE = {"staleness": ("drift", "quality", "fairness")}


def test_every_family_has_its_promtool_tests() -> None:
    here = Path(__file__).parent
    families = sorted(p.stem for p in (REPO / "targets/prometheus/monitors").glob("*.py") if p.stem != "__init__")
    tested = {f: [f] for f in families} | {f: list(by) for f, by in PROVEN_ELSEWHERE.items()}
    missing = [f for f in families if not all((here / f"test_rules_{t}.py").exists() for t in tested[f])]
    assert not missing, f"families without tests/prometheus/test_rules_<family>.py: {missing}"


ONE_OF_EACH: list[dict[str, Any]] = [
    {"name": "lat", "kind": "latency", "quantile": 0.99, "threshold": "250ms"},
    {"name": "err", "kind": "error_rate", "threshold": "1%", "failures": "exporter"},
    {"name": "tput", "kind": "throughput", "min": 1},
    {"name": "avail", "kind": "slo", "objective": 99, "failures": "exporter"},
    {"name": "fdrift", "kind": "data_drift", "features": ["plan"], "threshold": 0.2},
    {"name": "pdrift", "kind": "prediction_drift", "threshold": 0.2},
    {"name": "auc", "kind": "concept_drift", "metric": "roc_auc", "threshold": 0.7, "labelDelay": "7d"},
    {"name": "fair", "kind": "fairness", "metric": "disparate_impact", "attribute": "age", "threshold": 0.8},
    {"name": "spend", "kind": "cost", "threshold": 0.01, "currency": "EUR"},
    {"name": "halluc", "kind": "hallucination_rate", "threshold": "2%"},
    {"name": "ground", "kind": "grounding", "threshold": 0.8},
    {"name": "tokens", "kind": "token_cost", "threshold": 0.01, "pricePer1kTokens": {"input": 0.001, "output": 0.002}},
]


def test_live_and_job_flags_match_what_the_rules_read(tmp_path: Path) -> None:
    """On a batch model the live kinds render nothing and every other kind reads only the exporter
    contract; each batch job's staleness alerts appear exactly for the kinds that name it."""
    assert sorted(m["kind"] for m in ONE_OF_EACH) == spec_kinds()
    rendered = render(tmp_path, ONE_OF_EACH, base="churn-scorer")  # serving.pattern: batch
    rules_text = (rendered.dir() / "rules.yaml").read_text()
    monitors = {rule["labels"]["monitor"] for rule in rendered.rules() if "alert" in rule}
    live = {m["name"] for m in ONE_OF_EACH if rules.KINDS[m["kind"]].live}
    assert monitors.isdisjoint(live)
    assert {m["name"] for m in ONE_OF_EACH} - live <= monitors
    contract_metrics = {v for k, v in vars(contract).items() if k.isupper() and isinstance(v, str)}
    read = {s.metric.removesuffix("_sum").removesuffix("_count") for s in selectors(rules_text)
            if not s.metric.startswith("ml:")}
    assert read <= contract_metrics, read - contract_metrics
    stale = {rule["labels"]["exporter"] for rule in rendered.rules() if "exporter" in rule.get("labels", {})}
    assert stale == set(rules.JOBS.values()) == set(contract.LAST_RUN)
