"""Lint reports every problem in one run: the semantic rules judge every section that is schema-valid,
even when other sections have schema errors, and never report a consequence of a schema error."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_rules import findings, spec

from compiler.diagnostics import dotted
from compiler.pipeline import Context, check_spec, make_context
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


SCHEMA_ERROR_AND_UNTRUSTED_TEXT = """\
apiVersion: mlspec/v1
kind: Model
metadata:
  name: demo
  team: demo-team
  risk: limited
  description: "Scores fraud. Registry token glpat-AbCdEfGhIjKlMnOpQrSt"
owners:
  - {name: Owner, email: owner@example.com, roles: [owner, approver]}
data:
  dataset: "demo\\u202e"
  version: "1"
  dvc: {path: data/demo.csv, md5: 0123456789abcdef0123456789abcdef}
  features: [{name: amount, type: float}]
model:
  framework: sklaern
  version: "2"
  uri: https://deploy:s3cr3t-pass@models.example.com/demo/2
  code: {repo: "https://github.com/acme/demo", commit: 0123456789abcdef0123456789abcdef01234567}
pipeline:
  image: ghcr.io/acme/demo:2
  steps: [{name: train, command: [python, train.py]}]
serving: {pattern: realtime, environments: {production: {namespace: demo-prod}}}
monitors: [{name: error-rate, kind: error_rate, threshold: 1%}]
"""


def test_text_rules_read_every_string_even_beside_a_schema_error(context: Context) -> None:
    """A schema error in `model` does not hide a credential or a control character anywhere else (nor in
    `model` itself): the text rules read the document as loaded, with its positions."""
    result = check_spec(SCHEMA_ERROR_AND_UNTRUSTED_TEXT.encode(), "demo.yaml", "demo.yaml", context)
    found = sorted((d.line, d.col, d.code, dotted(d.path)) for d in result.diagnostics)
    assert found == [
        (7, 16, "MLS225", "metadata.description"),
        (11, 12, "MLS240", "data.dataset"),
        (16, 14, "MLS104", "model.framework"),
        (18, 8, "MLS225", "model.uri"),
    ], [str(d) for d in result.diagnostics]
