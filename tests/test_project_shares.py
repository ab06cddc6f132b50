"""Every target's per-spec shares (Target.project_part) give exactly the project-wide files the whole plans
give, and a target whose parts cover every plan reads no plan (compiler.render.lazy_plans): the render
after one spec changed then unpickles none (compiler.output.incremental)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.output import incremental
from compiler.output.tree import render_to
from compiler.pipeline import RunResult, run
from compiler.planning.plan import Plan
from compiler.render.lazy_plans import LazyPlans
from compiler.render.plugins import OutputFile
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec

TEAMS = "teams:\n" + "".join(f"  {team}: {{namespaces: [{team}-staging, {team}-prod, {team}]}}\n" for team in (
    "growth-ml", "search-ml", "ads-ml", "payments-ml", "support-ai", "retail-vision")) + (
    "  risk-ml: {namespaces: [risk-ml-staging, risk-ml-prod, risk-extra], email: risk@example.com, slack: '#risk'}\n"
    "  ops-ml: {namespaces: [ops-ml-staging, ops-ml-prod]}\n")
PROJECTS = [
    "",
    TEAMS,
    TEAMS + "targets:\n  governance: {defaultOwners: ['@acme/platform'], includeSpecs: false}\n"
            "  gitops: {engine: flux}\n  ci: {provider: both}\n"
            "  prometheus:\n    alertmanager:\n      teams:\n        ops-ml: {email: ops@example.com}\n",
    "targets:\n  governance: {specPrefix: specs-repo, codeownersPath: .github/CODEOWNERS}\n",
]


def _edit(spec: dict[str, Any], edit: str) -> dict[str, Any]:
    """The edits the shares must follow: owners, teams, alert routes (owner emails, monitor teams, retraining)."""
    if edit == "owners":
        spec["owners"] = [{"name": "Solo", "email": "solo@example.com", "roles": ["owner"]},
                          {"name": "Rev", "email": "rev@example.com", "roles": ["approver"], "github": "@rev"},
                          {"name": "Pager", "email": "pager@example.com", "roles": ["oncall"]}]
    elif edit == "no-code-owner":
        # No owner or approver: every owner becomes a code owner (GOV002 warns).
        spec["metadata"]["risk"] = "limited"
        spec["owners"] = [{"name": "On-call", "email": "x@example.com", "roles": ["oncall"]}]
    elif edit == "team":
        spec["metadata"]["team"] = "ops-ml"
        for name, environment in spec["serving"]["environments"].items():
            environment["namespace"] = f"ops-ml-{'staging' if name == 'staging' else 'prod'}"
    elif edit == "routes":
        monitors = spec["monitors"]
        monitors[0]["owner"] = spec["owners"][0]["email"]
        monitors[1]["owner"] = spec["owners"][1]["email"]
        monitors[0]["retrain"] = False
    return spec


def _project(tmp_path: Path, config: str, edits: list[str]) -> Path:
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n" + config)
    # Not in name order: the shares sort themselves.
    for index, edit in zip([3, 0, 2, 4, 1], [*edits, "", "", "", "", ""], strict=False):
        spec = _edit(make_spec(index), edit)
        (root / "specs" / f"model-{index:04d}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def _refusing(plans: list[Plan]) -> LazyPlans:
    def load() -> list[Plan]:
        raise AssertionError("a plan was read although every share is there")

    return LazyPlans([p.provenance.spec_path for p in plans], load)


def _files(found: Any) -> list[Any]:
    return [(f.path, f.format, f.comment, f.sources, f.content) if isinstance(f, OutputFile) else f for f in found]


def _three_ways(result: RunResult, name: str) -> None:
    """render_project and render_repository of `name`: from the plans alone, from the parts (in reverse
    order) with the plans there, and from the parts with plans that refuse to load."""
    target, settings = next((t, s) for t, s in result.context.targets if t.name == name)
    plans = sorted((s.plan for s in result.specs if s.plan is not None), key=lambda p: p.name)
    parts = {s.rel_path: s.parts[name] for s in reversed(result.specs) if name in s.parts}
    assert len(parts) == len(plans) == 5
    # What the pipeline hands render_repository: every file but the target's own project-wide ones.
    rendered = {p: data for p, data in result.files().items() if result.project_file_targets.get(p) != name}
    whole = _files(target.render_project(plans, settings))
    assert whole == _files(target.render_project(plans, settings, parts=parts))
    assert whole == _files(target.render_project(_refusing(plans), settings, parts=parts))
    whole = _files(target.render_repository(plans, settings, rendered))
    assert whole == _files(target.render_repository(plans, settings, rendered, parts=parts))
    assert whole == _files(target.render_repository(_refusing(plans), settings, rendered, parts=parts))


@pytest.mark.parametrize("config", PROJECTS)
@pytest.mark.parametrize("edits", [[], ["owners", "team", "routes"], ["no-code-owner", "routes", "team", "owners"]])
def test_shares_give_the_files_the_plans_give(tmp_path: Path, config: str, edits: list[str]) -> None:
    result = run(None, root=_project(tmp_path, config, edits), render=True, jobs=1)
    assert result.ok, "\n".join(d.to_text() for d in result.diagnostics if d.is_error)
    for name in ("governance", "prometheus", "ci", "gitops"):
        _three_ways(result, name)
    assert "CODEOWNERS" in "".join(result.project_files)


def test_a_part_missing_means_the_plans_are_read(tmp_path: Path) -> None:
    """A failed share (no entry) falls back to that plan: the lazy plans load, and the files stay the same."""
    result = run(None, root=_project(tmp_path, TEAMS, ["owners", "routes"]), render=True, jobs=1)
    assert result.ok
    for name in ("governance", "prometheus", "ci"):
        target, settings = next((t, s) for t, s in result.context.targets if t.name == name)
        plans = sorted((s.plan for s in result.specs if s.plan is not None), key=lambda p: p.name)
        parts = {s.rel_path: s.parts[name] for s in result.specs[1:]}
        lazy = LazyPlans([p.provenance.spec_path for p in plans], lambda plans=plans: list(plans))
        assert _files(target.render_project(plans, settings)) == _files(
            target.render_project(lazy, settings, parts=parts))
        assert lazy.loaded


def test_the_render_after_one_change_unpickles_no_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, TEAMS, ["owners", "routes"])
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "1")
    out = tmp_path / "out"
    assert render_to(out, jobs=1)[0].ok
    spec = root / "specs" / "model-0002.yaml"
    spec.write_text(spec.read_text().replace("description:", "description: edited", 1))
    loads: list[int] = []
    real = pickle.loads

    def counting(data: bytes, /, **kwargs: Any) -> Any:
        found = real(data, **kwargs)
        loads.append(isinstance(found, Plan))
        return found

    monkeypatch.setattr(incremental.pickle, "loads", counting)
    result, change = render_to(out, jobs=1)
    assert result.ok
    assert change is not None
    assert sum(loads) == 0
    monkeypatch.setattr(incremental.pickle, "loads", real)
    # the same tree as a full render
    monkeypatch.setenv("MLSPEC_INCREMENTAL", "0")
    reference = tmp_path / "reference"
    assert render_to(reference, jobs=1)[0].ok
    assert _tree(out) == _tree(reference)


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file() and ".git" not in p.parts}
