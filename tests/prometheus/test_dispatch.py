"""The prometheus target's one dispatch table: every monitor kind of the spec language has exactly one
rule builder, so a new kind cannot be added to the language and forgotten here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import get_args

from compiler import spec
from golden import REPO
from targets.prometheus import rules


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
    for kind, builder in rules.KINDS.items():
        assert builder.__module__.startswith("targets.prometheus.monitors."), (kind, builder.__module__)
        assert builder.__name__ == kind, f"{kind} is built by {builder.__qualname__}: name builders after the kind"


# Families proven inside other families' tests: the staleness alerts of each batch job.
PROVEN_ELSEWHERE = {"staleness": ("drift", "quality", "fairness")}


def test_every_family_has_its_promtool_tests() -> None:
    here = Path(__file__).parent
    families = sorted(p.stem for p in (REPO / "targets/prometheus/monitors").glob("*.py") if p.stem != "__init__")
    tested = {f: [f] for f in families} | {f: list(by) for f, by in PROVEN_ELSEWHERE.items()}
    missing = [f for f in families if not all((here / f"test_rules_{t}.py").exists() for t in tested[f])]
    assert not missing, f"families without tests/prometheus/test_rules_<family>.py: {missing}"
