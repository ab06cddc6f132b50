"""The gitops target's per-spec shares (Target.project_part, targets/gitops/model_layout.py): the repository
files joined from the models' shares are exactly the ones a layout of the whole tree gives, and the join
steps aside (to that whole-tree layout) whenever a file under models/ is not its model's own."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from compiler.pipeline import RunResult, run
from compiler.planning.plan import Plan
from compiler.render import memo
from compiler.render.plugins import OutputFile, Registry, Target, discover
from golden import REPO, SPECS
from targets.gitops import layout, model_layout

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import generate


def _configmap(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


class ExtraTarget(Target):
    """Writes Kubernetes objects where the built-in targets never do."""

    name = "extra"

    def __init__(self, spec_path: str = "", project_path: str = "") -> None:
        self.spec_path, self.project_path = spec_path, project_path

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        if self.spec_path:
            yield OutputFile(self.spec_path.format(name=plan.name), "yaml",
                             [_configmap(plan.name, plan.serving.environments[0].namespace)])

    def render_project(self, plans: Sequence[Plan], settings: Any,
                       parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile]:
        if self.project_path and plans:
            yield OutputFile(self.project_path.format(name=plans[0].name), "yaml",
                             [_configmap("all-models", plans[0].serving.environments[0].namespace)])


def _project(tmp_path: Path, config: str = "", generated: int = 6) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    generate(generated, root / "specs")
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n" + config)
    return root


def _registry(*extra: Target) -> Registry:
    registry = Registry()
    for target in discover().targets.values():
        registry.add(target)
    for target in extra:
        registry.add(target)
    return registry


def _both_ways(result: RunResult) -> tuple[list[Any], list[Any], bool]:
    """render_repository of the gitops target from the shares and from the whole tree, as the pipeline
    calls it (every file but the gitops target's own), and whether the shares sufficed."""
    gitops, settings = next((t, s) for t, s in result.context.targets if t.name == "gitops")
    plans = sorted((s.plan for s in result.specs if s.plan is not None), key=lambda p: p.name)
    parts = {s.rel_path: s.parts["gitops"] for s in result.specs if "gitops" in s.parts}
    assert len(parts) == len(plans)
    rendered = {p: data for p, data in result.files().items() if result.project_file_targets.get(p) != "gitops"}
    joined = model_layout.layout_from_parts(rendered, plans, parts)
    memo._STORE.clear()  # the whole-tree layout classifies every file from its bytes
    from_parts = list(gitops.render_repository(plans, settings, rendered, parts=parts))
    whole = list(gitops.render_repository(plans, settings, rendered))
    return from_parts, whole, joined is not None


@pytest.mark.parametrize("config", ["", "targets:\n  gitops: {engine: flux}\n",
                                    "targets:\n  gitops: {engine: none}\n"])
def test_shares_give_the_whole_tree_layout(tmp_path: Path, config: str) -> None:
    result = run(None, root=_project(tmp_path, config), render=True, jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics if d.is_error]
    from_parts, whole, joined = _both_ways(result)
    assert joined  # the fast path was taken, not the fallback
    assert from_parts == whole
    assert len([f for f in whole if isinstance(f, OutputFile)]) > 50


@pytest.mark.parametrize(("extra", "joined"), [
    # a project-wide object in a model's folder: that model's share does not know it
    (ExtraTarget(project_path="models/{name}/extra/configmap.yaml"), False),
    # a spec writing outside models/: only more missing kustomizations, the shares still suffice
    (ExtraTarget(spec_path="shared/{name}.yaml"), True),
    # a spec writing under models/ but outside its model's folder
    (ExtraTarget(spec_path="models/{name}-extra/configmap.yaml"), False),
    # a project-wide object outside models/
    (ExtraTarget(project_path="platform/configmap.yaml"), True),
])
def test_files_the_shares_do_not_cover_give_the_same_layout(tmp_path: Path, extra: ExtraTarget,
                                                            joined: bool) -> None:
    root = _project(tmp_path, "targets:\n  extra: {}\n", generated=3)
    result = run(None, root=root, render=True, jobs=1, registry=_registry(extra))
    assert result.ok, [d.to_text() for d in result.diagnostics if d.is_error]
    from_parts, whole, took_shares = _both_ways(result)
    assert took_shares is joined
    assert from_parts == whole
    written = {f.path for f in whole if isinstance(f, OutputFile)}
    folder = (extra.spec_path or extra.project_path).rpartition("/")[0]
    if "{name}" not in folder:
        assert f"{folder}/kustomization.yaml" in written  # the extra objects are reachable


def test_two_models_naming_the_same_app_are_reported_the_same_way(tmp_path: Path) -> None:
    root = _project(tmp_path, generated=0)
    text = (SPECS / "fraud-detector.yaml").read_text()
    assert "name: fraud-detector" in text
    assert "    staging: {namespace: risk-staging" in text
    # `fraud` in `detector-staging` is app fraud-detector-staging, as is fraud-detector in `staging`.
    (root / "specs" / "fraud.yaml").write_text(
        text.replace("name: fraud-detector", "name: fraud", 1)
        .replace("    staging: {namespace: risk-staging", "    detector-staging: {namespace: risk-staging"))
    result = run(None, root=root, render=True, jobs=1)
    codes = [d.code for d in result.diagnostics if d.is_error]
    assert codes == ["OPS002"], [d.to_text() for d in result.diagnostics if d.is_error]
    from_parts, whole, joined = _both_ways(result)
    assert joined
    assert from_parts == whole
    assert [d.code for d in whole if not isinstance(d, OutputFile)] == ["OPS002", "OPS001"]


def test_a_spec_renders_its_share_where_it_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project-wide step lays out no model's folders: that was done once per spec, with its files."""
    root = _project(tmp_path, generated=4)
    laid_out: list[int] = []
    real = layout.plan_layout

    def counting(tree: layout.Tree, plans: Sequence[Plan]) -> layout.Layout:
        laid_out.append(len(plans))
        return real(tree, plans)

    monkeypatch.setattr(layout, "plan_layout", counting)
    monkeypatch.setattr(model_layout, "plan_layout", counting)
    result = run(None, root=root, render=True, jobs=1)
    assert result.ok
    specs = len(result.specs)
    assert laid_out == [1] * specs + [0]  # one model per spec, then only the project-wide files
