"""The review comment (`mlspec diff --format markdown`) on the example specs, as a pull request sees it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from tools import REPO_ROOT

from compiler.deploy.diff import diff_trees
from compiler.deploy.review import SpecSide, to_markdown

COMMENT_BUDGET = 8_000


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "specs-repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    shutil.copytree(REPO_ROOT / "specs", repo / "specs")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-qm", "base")
    return repo


def _edit(repo: Path, model: str, old: str, new: str) -> None:
    path = repo / "specs" / f"{model}.yaml"
    text = path.read_text()
    assert old in text, (model, old)
    path.write_text(text.replace(old, new, 1))


def _diff(repo: Path, *extra: str) -> str:
    result = subprocess.run([sys.executable, "-m", "compiler", "diff", "--base", "main", *extra], cwd=repo,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 1, result.stderr
    return result.stdout


def _summary(markdown: str) -> str:
    return markdown.split("<details>", 1)[0]


def test_one_canary_step_reads_in_the_specs_terms_first(spec_repo: Path) -> None:
    _edit(spec_repo, "fraud-detector", "traffic: 5,", "traffic: 10,")
    comment = _diff(spec_repo, "--format", "markdown")
    assert len(comment) < COMMENT_BUDGET
    first = _summary(comment).splitlines()
    model_line = next(line for line in first if line.startswith("- "))
    assert model_line == "- **fraud-detector** (risk: high) version `12`"
    assert "  - `rollout.canary[0].traffic`: `5` → `10`" in first
    assert not re.search(r"[0-9a-f]{64}", comment), "digests are hidden by default"
    # identical stages are not repeated, and the canary stage rename shows as one removal and one addition
    assert comment.count("| removed | InferenceService | `risk-prod/fraud-detector` | `production/canary-5`") == 1
    assert comment.count("| added | InferenceService | `risk-prod/fraud-detector` | `production/canary-10`") == 1


def test_version_bump_stays_short_and_folds_echoes(spec_repo: Path) -> None:
    for old, new in (('version: "12"', 'version: "13"'), ("uri: s3://models/fraud-detector/12", "uri: s3://models/fraud-detector/13"),
                     ('previous: {version: "11", uri: s3://models/fraud-detector/11}',
                      'previous: {version: "12", uri: s3://models/fraud-detector/12}')):
        _edit(spec_repo, "fraud-detector", old, new)
    comment = _diff(spec_repo, "--format", "markdown")
    assert len(comment) < COMMENT_BUDGET
    assert "- **fraud-detector** (risk: high) `12` → `13`" in comment
    assert "field(s) follow the spec change" in comment
    with_digests = _diff(spec_repo, "--format", "markdown", "--provenance")
    assert re.search(r"sha256:[0-9a-f]{64}", with_digests)


def test_five_models_highest_risk_first(spec_repo: Path) -> None:
    edits = {"churn-scorer": ("risk: limited", "risk: high"), "fraud-detector": ("traffic: 5,", "traffic: 10,")}
    for model, (old, new) in edits.items():
        _edit(spec_repo, model, old, new)
    for model in ("shelf-vision-edge", "support-assistant", "txn-anomaly"):
        _edit(spec_repo, model, "description: ", "description: Reviewed. ")
    comment = _diff(spec_repo, "--format", "markdown")
    order = re.findall(r"^- \*\*([a-z-]+)\*\* \(risk: ([a-z →]+)\)", comment, re.M)
    assert [name for name, _ in order][:2] == ["churn-scorer", "fraud-detector"]  # high first, then by name
    assert len(order) == 5
    assert len(comment) < 4 * COMMENT_BUDGET


def test_markdown_structure_as_a_real_parser_reads_it(spec_repo: Path) -> None:
    _edit(spec_repo, "fraud-detector", "traffic: 5,", "traffic: 10,")
    tokens = MarkdownIt("commonmark").enable("table").parse(_diff(spec_repo, "--format", "markdown"))
    kinds = [t.type for t in tokens]
    assert "bullet_list_open" in kinds
    assert "table_open" in kinds
    header = [t.content for t in tokens if t.type == "inline"][1:6]
    assert kinds.index("bullet_list_open") < kinds.index("table_open")
    assert header  # the summary comes before the table


def test_alert_rules_are_addressed_by_alert_name() -> None:
    def rules(threshold: float) -> dict[str, bytes]:
        doc = {"groups": [{"name": "g", "rules": [
            {"record": "ml:x", "expr": "1"},
            {"alert": "FraudDetectorLatency", "expr": f"x > {threshold}", "for": "5m"}]}]}
        return {"models/m/prometheus/production/rules.yaml": json.dumps(doc).encode()}

    diff = diff_trees(rules(0.2), rules(0.15))
    changed = [c.path for r in diff.resources for c in r.changes]
    assert changed == ["groups[name=g].rules[alert=FraudDetectorLatency].expr"]


def test_a_cut_never_hides_the_riskiest_model() -> None:
    configmap = "kind: ConfigMap\napiVersion: v1\nmetadata: {{name: {}}}\ndata: {{a: '1'}}\n"
    files_old = {f"models/{n}/kserve/x.yaml": configmap.format(n).encode() for n in ("a-low", "z-high")}
    files_new = {k: v.replace(b"'1'", b"'2'") for k, v in files_old.items()}
    diff = diff_trees(files_old, files_new)
    sides = {"a-low": SpecSide("minimal", "1", {}), "z-high": SpecSide("high", "1", {})}
    full = to_markdown(diff, sides, sides, {})
    assert full.index("z-high") < full.index("a-low")
    cut = to_markdown(diff, sides, sides, {}, limit=full.index("<details><summary>a-low") + 130)
    assert "<details><summary>z-high" in cut
    assert "<details><summary>a-low" not in cut
    assert "omitted" in cut
