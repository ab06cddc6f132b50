"""The target half of the invalid-spec corpus: tests/invalid/targets/ holds specs (and project files) that
the core accepts and one installed target refuses or warns about. Each is linted with every installed
target, from the repository root, and golden/lint-targets/ holds the exact text output, so every target
code is shown with a real spec and a real position, not only by unit tests on hand-built plans.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.codes import CODES
from compiler.render.plugins import discover
from golden import GOLDEN, REPO, check_text

CORPUS = REPO / "tests" / "invalid" / "targets"
GOLDEN_DIR = GOLDEN / "lint-targets"
CASES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.yaml") if p.name != "mlspec.yaml")
# A generated expression that does not parse is a bug in the target, not something a spec can cause.
NOT_SPEC_TRIGGERED = {"PRM900"}
# Target checks that repeat a core rule (defence in depth: a plan built by other means still gets them),
# so a spec shows the core's code instead; and state that only a deployment repository holds. Each is
# judged by its target's unit tests. When one becomes reachable from a spec, the test below says so.
GUARDED_ELSEWHERE = {
    "KFP009": "core MLS206 refuses a schedule that is not five cron fields first",
    "PRM001": "core MLS234 refuses a critical monitor without a runbook first",
    "KSV011": "the live rollout stage comes from the deployment repository, which lint does not read",
    "OPS001": "a repository-level warning of the rendered tree (render, not lint): tests/test_gitops.py",
    "OPS002": "two apps of one rendered tree collide (render, not lint): tests/test_gitops.py",
}
# Core codes only a target's settings can show (the core corpus runs with an inert target).
CORE_CODES_HERE = {"MLS620"}


def _lint(case: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["lint", "--format", fmt, f"tests/invalid/targets/{case}"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _golden(case: str) -> Path:
    return GOLDEN_DIR / (case.removesuffix(".yaml") + ".txt")


def _header_codes(case: str) -> set[str]:
    first = (CORPUS / case).read_text().split("\n", 1)[0]
    return set(re.findall(r"\b([A-Z]{2,3}\d{3})\b", first.split(":", 1)[0]))


@pytest.mark.parametrize("case", CASES)
def test_case_matches_golden(case: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, text = _lint(case, "text", monkeypatch)
    check_text(text, _golden(case), update_golden)
    errors = re.findall(r": error ([A-Z]+\d+) ", text)
    assert code == (1 if errors else 0), text
    shown = set(re.findall(r": (?:error|warning) ([A-Z]+\d+) ", text))
    assert _header_codes(case) <= shown, f"{case} does not show what its first line says: {shown}"


@pytest.mark.parametrize("case", CASES)
def test_case_diagnostics_are_positioned(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = _lint(case, "json", monkeypatch)
    for diag in json.loads(out):
        assert diag["line"] > 0, f"unpositioned diagnostic: {diag}"
        assert diag["col"] > 0, f"unpositioned diagnostic: {diag}"


def test_every_case_says_what_it_tests() -> None:
    for case in CASES:
        assert _header_codes(case), f"{case}: first line must be `# CODE: what is wrong`"


def test_no_stale_goldens(update_golden: bool) -> None:
    wanted = {_golden(case) for case in CASES}
    stale = sorted(p for p in GOLDEN_DIR.rglob("*.txt") if p not in wanted)
    if update_golden:
        for path in stale:
            path.unlink()
        return
    assert not stale, f"golden files without a corpus case: {stale}"


def test_corpus_covers_every_target_code() -> None:
    registry = discover()
    every = {c for name in registry.names() for c in registry.targets[name].codes}
    assert set(GUARDED_ELSEWHERE) <= every, "GUARDED_ELSEWHERE names a code no target has"
    expected = (every - NOT_SPEC_TRIGGERED - set(GUARDED_ELSEWHERE)) | CORE_CODES_HERE
    assert set(CODES) >= CORE_CODES_HERE
    seen: set[str] = set()
    for path in GOLDEN_DIR.rglob("*.txt"):
        seen |= set(re.findall(r": (?:error|warning) ([A-Z]+\d{3}) ", path.read_text()))
    assert not (expected - seen), f"codes without a corpus case: {sorted(expected - seen)}"
    assert not (set(GUARDED_ELSEWHERE) & seen), f"now reachable, add a case: {sorted(set(GUARDED_ELSEWHERE) & seen)}"
