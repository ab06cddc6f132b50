"""Lint reports every problem in one run: the semantic rules judge every section that is schema-valid,
even when other sections have schema errors, and never report a consequence of a schema error."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_rules import findings, spec

from compiler.pipeline import Context, make_context
from compiler.render.plugins import Registry


@pytest.fixture
def context(tmp_path: Path) -> Context:
    return make_context(tmp_path, Registry())


def test_five_mistakes_are_reported_in_one_run(context: Context) -> None:
    data = spec(
        **{
            "model.framework": "sklaern",  # schema: not a choice
            "serving.replicaz": 2,  # schema: unknown key
            "pipeline.steps": [
                {"name": "a", "command": ["x"], "after": ["b"]},
                {"name": "b", "command": ["y"], "after": ["a"]},
            ],  # rule: a cycle
            "monitors": [
                {"name": "error-rate", "kind": "error_rate", "threshold": "1%"},
                {"name": "error-rate", "kind": "error_rate", "threshold": "2%"},
            ],  # rule: a duplicate
            "gates": [{"metric": "auc"}],  # rule: a gate with no threshold
        }
    )
    codes = [code for code, _ in findings(data, context)]
    assert sorted(codes) == ["MLS101", "MLS104", "MLS201", "MLS203", "MLS207"], codes


def test_no_finding_is_a_consequence_of_a_schema_error(context: Context) -> None:
    """The rollout names a monitor whose section is broken: the reference is not reported missing."""
    data = spec(
        monitors=[{"name": "error-rate", "kind": "error_rate", "threshold": "lots"}],
        rollout={"canary": [{"traffic": 10, "duration": "1h"}], "rollbackOn": ["error-rate"]},
    )
    found = findings(data, context)
    assert [code for code, _ in found if not code.startswith("MLS1")] == [], found
    assert any(path.startswith("monitors[0]") for _, path in found)
