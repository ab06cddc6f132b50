"""mlspec.yaml has one casing: camelCase. The old snake_case target settings still load, with MLS620 at
each key naming the new spelling."""

from __future__ import annotations

import shutil
from pathlib import Path

from compiler.diagnostics import Severity
from compiler.pipeline import run
from golden import SPECS
from targets.ci.settings import CiSettings
from targets.governance.settings import GovernanceSettings

PROJECT = """\
apiVersion: mlspec/v1
kind: Project
targets:
  ci:
    runs_on: self-hosted
    defaultBranch: trunk
  governance:
    defaultOwners: ['@acme/platform']
    log_retention_days: 400
"""


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mlspec.yaml").write_text(text)
    (tmp_path / "specs").mkdir()
    shutil.copy(SPECS / "fraud-detector.yaml", tmp_path / "specs" / "fraud-detector.yaml")
    return tmp_path


def _settings(result: object, cls: type) -> object:
    return next(s for _, s in result.context.targets if isinstance(s, cls))  # type: ignore[attr-defined]


def test_old_spelling_loads_with_a_positioned_warning(tmp_path: Path) -> None:
    root = _project(tmp_path, PROJECT)
    result = run([root / "specs"], render=False)
    warnings = [d for d in result.diagnostics if d.code == "MLS620"]
    assert [(d.path, d.line, d.col, d.severity) for d in warnings] == [
        (("targets", "ci", "runs_on"), 5, 5, Severity.WARNING),
        (("targets", "governance", "log_retention_days"), 9, 5, Severity.WARNING),
    ]
    assert "'runsOn'" in warnings[0].message
    assert warnings[0].hint is not None
    assert "runsOn" in warnings[0].hint
    assert warnings[0].file.endswith("mlspec.yaml")
    assert [d for d in result.diagnostics if d.is_error] == []
    ci = _settings(result, CiSettings)
    gov = _settings(result, GovernanceSettings)
    assert ci.runs_on == "self-hosted"
    assert ci.default_branch == "trunk"
    assert gov.log_retention_days == 400
    assert gov.default_owners == ("@acme/platform",)


def test_camel_case_is_silent(tmp_path: Path) -> None:
    root = _project(tmp_path, PROJECT.replace("runs_on", "runsOn").replace("log_retention_days", "logRetentionDays"))
    result = run([root / "specs"], render=False)
    assert not [d for d in result.diagnostics if d.code == "MLS620"]
    assert _settings(result, CiSettings).runs_on == "self-hosted"  # type: ignore[attr-defined]


def test_a_typo_in_the_new_spelling_is_still_an_unknown_key(tmp_path: Path) -> None:
    root = _project(tmp_path, PROJECT.replace("defaultBranch", "defaultBrnch"))
    result = run([root / "specs"], render=False)
    unknown = [d for d in result.diagnostics if d.code == "MLS101"]
    assert [(d.line, d.col) for d in unknown] == [(6, 5)]
    assert unknown[0].hint is not None
    assert "defaultBranch" in unknown[0].hint
