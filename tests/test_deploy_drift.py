from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_deploy_support import make_deploy_repo, make_spec_repo, other_spec, registry, set_traffic

from compiler.deploy.cli import drift_command
from compiler.deploy.commit import commit
from compiler.deploy.drift import find_drift
from compiler.render.plugins import Registry


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          use_targets: Callable[[Registry], Registry]) -> tuple[Path, Path]:
    spec_repo = make_spec_repo(tmp_path)
    deploy, _ = make_deploy_repo(tmp_path)
    commit(deploy, root=spec_repo, registry=registry())
    use_targets(registry())
    monkeypatch.chdir(spec_repo)
    return spec_repo, deploy


def test_clean_tree_has_no_drift(setup: tuple[Path, Path]) -> None:
    _, deploy = setup
    result = CliRunner().invoke(drift_command, ["--repo", str(deploy)])
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output


def test_every_drift_class_per_file_and_resource(setup: tuple[Path, Path]) -> None:
    spec_repo, deploy = setup
    set_traffic(spec_repo, 25, 30)  # outdated
    cm = deploy / "models/other-model/cfg/configmap.yaml"
    cm.write_text(cm.read_text() + "# hand edit\n")  # modified
    (deploy / "models/fraud-detector/cfg/notes.txt").unlink()  # missing
    (deploy / "models/fraud-detector/cfg/extra.yaml").write_text("x: 1\n")  # orphaned file
    (deploy / "README.md").write_text("not managed: not an orphan\n")
    (spec_repo / "specs" / "new-model.yaml").write_text(other_spec("new-model"))  # never rendered
    found, diags = find_drift(deploy, root=spec_repo, registry=registry())
    assert found is not None
    assert not [d for d in diags if d.is_error]
    kinds = [(d.kind, d.path) for d in found.items]
    assert kinds == [
        ("outdated", "specs/fraud-detector.yaml"),
        ("outdated", "specs/new-model.yaml"),
        ("modified", "models/other-model/cfg/configmap.yaml"),
        ("missing", "models/fraud-detector/cfg/notes.txt"),
        ("orphaned", "models/fraud-detector/cfg/extra.yaml"),
    ]
    modified = found.modified[0]
    assert [dict(r) for r in modified.resources] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "other-model", "namespace": "risk-ml-prod"}]
    result = CliRunner().invoke(drift_command, ["--repo", str(deploy), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output[result.output.index("{"):])
    assert data["summary"] == {"missing": 1, "modified": 1, "orphaned": 1, "outdated": 2, "ledger": 0}
    text = CliRunner().invoke(drift_command, ["--repo", str(deploy)]).output
    assert "risk-ml-prod, other-model, ConfigMap (v1)" in text


def test_deleted_spec_leaves_orphaned_manifest_entries(setup: tuple[Path, Path]) -> None:
    spec_repo, deploy = setup
    (spec_repo / "specs" / "other-model.yaml").unlink()
    found, _ = find_drift(deploy, root=spec_repo, registry=registry())
    assert found is not None
    assert [(d.kind, d.path) for d in found.items] == [
        ("orphaned", "models/other-model/cfg/configmap.yaml"),
        ("orphaned", "models/other-model/cfg/notes.txt"),
        ("orphaned", "specs/other-model.yaml"),
    ]
    commit(deploy, root=spec_repo, registry=registry())
    again, _ = find_drift(deploy, root=spec_repo, registry=registry())
    assert again is not None
    assert not again.items


def test_drift_needs_a_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(drift_command, ["--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert "no mlspec manifest" in result.output
