"""Diagnostics that were wrong or missing (issue 10, item 9 and the render-error position)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tools import require_tool, run_tool

from compiler.cli import cli
from compiler.diagnostics import Severity, has_errors
from compiler.pipeline import check_spec, make_context, run
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Target
from golden import SPECS, registry_of, render_examples
from targets.prometheus import PrometheusTarget

FRAUD = SPECS / "fraud-detector.yaml"


def fraud() -> dict[str, Any]:
    return yaml.safe_load(FRAUD.read_text())


def lint(data: Any, root: Path = SPECS.parent) -> list[Any]:
    return check_spec(json.dumps(data).encode(), "m.yaml", "m.yaml", make_context(root)).diagnostics


# --- a bare number for a duration: suggest the unit, not quotes -------------------------------------------

def test_latency_threshold_number_suggests_a_unit() -> None:
    data = fraud()
    data["monitors"][1]["threshold"] = 150
    diags = [d for d in lint(data) if d.path == ("monitors", 1, "threshold")]
    assert [d.code for d in diags] == ["MLS103"]
    assert "150ms" in (diags[0].hint or "")
    assert "quote" not in (diags[0].hint or "")
    data["monitors"][1]["threshold"] = "150ms"  # following the hint lints clean
    assert not has_errors(lint(data))


def test_other_numbers_still_suggest_quoting() -> None:
    data = fraud()
    data["data"]["version"] = 5
    diags = [d for d in lint(data) if d.path == ("data", "version")]
    assert diags[0].hint == 'quote it: "5"'


# --- monitor owner emails are routed ---------------------------------------------------------------------

def test_owner_email_is_routed_by_alertmanager(tmp_path: Path) -> None:
    """churn-scorer's age-parity monitor has `owner: churn-owner@example.com`: its alerts carry the owner
    label and Alertmanager (amtool's own route walk) sends them to that address and to the team."""
    amtool = require_tool("amtool")
    files = render_examples(PrometheusTarget()).files()
    rules = yaml.safe_load(files["models/churn-scorer/prometheus/production/rules.yaml"])
    owned = [r for g in rules["groups"] for r in g["rules"]
             if "alert" in r and r["labels"].get("monitor") == "age-parity"]
    assert owned
    assert all(r["labels"]["owner"] == "churn-owner@example.com" for r in owned)
    config = tmp_path / "alertmanager.yml"
    config.write_bytes(files["prometheus/alertmanager/alertmanager.yml"])
    checked = run_tool([amtool, "check-config", config])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    am = yaml.safe_load(config.read_text())
    receiver = next(r for r in am["receivers"] if r["name"] == "owner-churn-owner@example.com")
    assert receiver["email_configs"][0]["to"] == "churn-owner@example.com"
    for labels, expected in (
        (["owner=churn-owner@example.com", "team=growth-ml", "severity=warning"],
         "owner-churn-owner@example.com,growth-ml-warning"),
        (["team=growth-ml", "severity=warning"], "growth-ml-warning"),
    ):
        routed = run_tool([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
        assert routed.stdout.strip() == expected, (labels, routed.stdout, routed.stderr)


# --- a gate or rate window under two scrape intervals never sees data ------------------------------------

def test_short_gate_window_warns() -> None:
    data = fraud()
    data["rollout"]["canary"][0]["duration"] = "90s"
    data["monitors"][0]["window"] = "1m"
    found = {(d.code, d.path, d.severity) for d in lint(data)}
    assert ("MLS243", ("rollout", "canary", 0, "duration"), Severity.WARNING) in found
    assert ("MLS243", ("monitors", 0, "window"), Severity.WARNING) in found
    assert not has_errors(lint(data))


def test_scrape_interval_comes_from_the_project(tmp_path: Path) -> None:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\nscrapeInterval: 15s\n")
    data = fraud()
    data["rollout"]["canary"][0]["duration"] = "90s"
    assert not [d for d in lint(data, tmp_path) if d.code == "MLS243"]
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\nscrapeInterval: 5m\n")
    found = [d for d in lint(fraud(), tmp_path) if d.code == "MLS243"]
    # the 5m default windows of the latency and error-rate monitors, and the 1h/2h canaries are fine
    assert {d.path for d in found} == {("monitors", 1), ("monitors", 2)}
    assert "10m" in (found[0].hint or "")


def test_examples_do_not_warn_about_windows() -> None:
    for spec in sorted(SPECS.glob("*.yaml")):
        data = yaml.safe_load(spec.read_text())
        assert not [d for d in lint(data) if d.code == "MLS243"], spec


# --- a render failure names the spec and a position ------------------------------------------------------

class Broken(Target):
    name = "broken"
    description = "raises while rendering"

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        raise RuntimeError("boom")


def test_render_error_names_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run([FRAUD], root=SPECS.parent, render=True, registry=registry_of(Broken()), jobs=1)
    found = [d for d in result.diagnostics if d.code == "MLS504"]
    assert len(found) == 1
    assert found[0].file.endswith("fraud-detector.yaml")
    assert found[0].line > 0
    assert found[0].col > 0
    assert "<input>" not in found[0].to_text()
    monkeypatch.chdir(SPECS.parent)
    monkeypatch.setattr("compiler.pipeline.discover", lambda: registry_of(Broken()))
    out = CliRunner().invoke(cli, ["render", "--out", str(SPECS.parent / ".no-such-out"), "specs/fraud-detector.yaml"])
    assert "<input>" not in out.stdout + out.stderr
    assert "specs/fraud-detector.yaml:2:1: error MLS504" in out.stdout + out.stderr, out.stdout + out.stderr
    assert not (SPECS.parent / ".no-such-out").exists()


def test_unchanged_fixture_is_clean() -> None:
    assert not has_errors(lint(copy.deepcopy(fraud())))
