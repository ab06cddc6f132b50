"""The invalid-spec corpus: every file in tests/invalid/ is one problem class, and golden/lint/ holds the
exact `mlspec lint --format text` output for it, run from the repository root (so positions are proved).

The CLI runs in-process with a registry holding one inert target: target checks are judged by each
target's own tests, and letting them in here would churn these goldens whenever a target changes.
Cases in a subdirectory run under that directory's own mlspec.yaml (policy and project-file cases).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.codes import CODES
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Registry, Target, installed_targets
from golden import GOLDEN, REPO, check_text, registry_of

CORPUS = REPO / "tests" / "invalid"
GOLDEN_LINT = GOLDEN / "lint"
# tests/invalid/targets/ is the targets' half of the corpus, linted with the real targets (test_target_corpus).
CASES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.yaml")
               if p.name != "mlspec.yaml" and p.relative_to(CORPUS).parts[0] != "targets")
# Problems only a file (not a spec's content) can have are tested in test_loader and test_loader_limits;
# 5xx are target faults.
NOT_SPEC_TRIGGERED = {"MLS001", "MLS014", "MLS501", "MLS502", "MLS503", "MLS504",
                      # Two spec files outside the project root with one name: tests/test_spec_paths.py.
                      "MLS015",
                      # `render --out -` and `drift --cluster`: the command and the cluster, tested in
                      # tests/test_stream.py and tests/test_clusterdrift.py.
                      "MLS290", "MLS291", "MLS292", "MLS293", "MLS294", "MLS295",
                      # A patch that no longer applies is found when rendering: tests/test_patches.py.
                      "MLS735", "MLS736", "MLS737", "MLS738"}
# Shown by the targets' half of the corpus (test_target_corpus): only a real target's settings trigger them.
TARGET_CORPUS_CODES = {"MLS620"}
# Catalogued codes the core never emits yet; when the core emits them, this set must shrink.
KNOWN_GAPS: set[str] = set()
# Cases that lint with warnings only: they exit 0.
WARNING_CASES = {"warnings-only.yaml"}


class InertTarget(Target):
    name = "inert"
    description = "renders nothing; stands in for the installed targets"

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        return ()


def _registry() -> Registry:
    return registry_of(InertTarget())


def lint(case: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(REPO)
    with installed_targets(_registry()):
        result = CliRunner().invoke(cli, ["lint", "--format", fmt, f"tests/invalid/{case}"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def golden_path(case: str) -> Path:
    return GOLDEN_LINT / (case.removesuffix(".yaml") + ".txt")


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_case_matches_golden(case: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, text = lint(case, "text", monkeypatch)
    check_text(text, golden_path(case), update_golden)
    assert code == (0 if case in WARNING_CASES else 1), text
    assert text.strip(), "an invalid spec must produce diagnostics"


@pytest.mark.parametrize("case", CASES)
def test_case_diagnostics_are_positioned_and_catalogued(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = lint(case, "json", monkeypatch)
    diags = json.loads(out)
    assert diags
    for diag in diags:
        assert diag["code"] in CODES, diag
        assert diag["line"] > 0, f"unpositioned diagnostic: {diag}"
        assert diag["col"] > 0, f"unpositioned diagnostic: {diag}"
        location = (CORPUS / case).parent / diag["file"] if diag["file"] == "mlspec.yaml" else REPO / diag["file"]
        lines = location.read_bytes().splitlines()
        assert diag["line"] <= len(lines), diag
        assert diag["col"] <= len(lines[diag["line"] - 1]) + 1, diag


def test_no_stale_goldens(update_golden: bool) -> None:
    wanted = {golden_path(case) for case in CASES}
    stale = sorted(p for p in GOLDEN_LINT.rglob("*.txt") if p not in wanted)
    if update_golden:
        for path in stale:
            path.unlink()
        return
    assert not stale, f"golden files without a corpus case: {stale}"


def test_corpus_covers_every_spec_code() -> None:
    """Each code a spec (or its mlspec.yaml) can trigger is shown by at least one corpus case."""
    seen = set()
    for path in GOLDEN_LINT.rglob("*.txt"):
        seen |= set(re.findall(r": (?:error|warning) (MLS\d{3}) ", path.read_text()))
    expected = set(CODES) - NOT_SPEC_TRIGGERED - KNOWN_GAPS - TARGET_CORPUS_CODES
    assert not (expected - seen), f"codes without a corpus case: {sorted(expected - seen)}"
    assert not (KNOWN_GAPS & seen), f"now emitted, drop from KNOWN_GAPS: {sorted(KNOWN_GAPS & seen)}"
    assert not (seen - set(CODES)), f"codes not in the catalogue: {sorted(seen - set(CODES))}"


def test_every_case_says_what_it_tests() -> None:
    for case in CASES:
        first = (CORPUS / case).read_bytes().split(b"\n", 1)[0]
        assert re.match(rb"# (MLS\d{3})", first), f"{case}: first line must be `# MLSnnn: what is wrong`"
