"""`mlspec commit --hold ENV`: the staging deploy leaves production exactly as committed (docs/deploy.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_deploy_support import FRAUD, git, make_deploy_repo, make_spec_repo

from compiler.deploy import repo as git_ops
from compiler.deploy.commit import commit, hand_edits
from compiler.deploy.hold import is_held
from compiler.output.writer import MANIFEST

PROD = "models/fraud-detector/kserve/production/"


def _bump(spec_repo: Path) -> None:
    path = spec_repo / "specs" / "fraud-detector.yaml"
    text = path.read_text().replace('version: "12"', 'version: "13"', 1)
    text = text.replace("s3://models/fraud-detector/12", "s3://models/fraud-detector/13", 1)
    path.write_text(text.replace('previous: {version: "11", uri: s3://models/fraud-detector/11}',
                                 'previous: {version: "12", uri: s3://models/fraud-detector/12}'))


def _files(deploy: Path, prefix: str) -> dict[str, str]:
    listed = git(deploy, "ls-tree", "-r", "HEAD", "--", prefix).splitlines()
    return {line.split("\t")[1]: line.split()[2] for line in listed}


def _manifest(deploy: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads(git(deploy, "show", f"HEAD:{MANIFEST}"))["files"])


@pytest.fixture
def repos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    spec_repo = make_spec_repo(tmp_path, {"fraud-detector": FRAUD})
    deploy, _ = make_deploy_repo(tmp_path)
    return spec_repo, deploy


def test_held_environment_keeps_its_files_and_manifest_entries(repos: tuple[Path, Path]) -> None:
    spec_repo, deploy = repos
    assert commit(deploy, root=spec_repo).status == "committed"
    before, entries = _files(deploy, PROD), _manifest(deploy)
    assert before
    _bump(spec_repo)
    staging_before = _files(deploy, "models/fraud-detector/kserve/staging/")
    assert commit(deploy, root=spec_repo, hold_environments=["production"]).status == "committed"
    assert _files(deploy, PROD) == before
    assert _files(deploy, "models/fraud-detector/kserve/staging/") != staging_before
    after = _manifest(deploy)
    assert {k: v for k, v in after.items() if k.startswith(PROD)} == {k: v for k, v in entries.items()
                                                                      if k.startswith(PROD)}
    # The commit is consistent: every file matches its manifest entry, so nothing reads as hand-edited.
    for rel, info in after.items():
        blob = (deploy / rel).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == info["sha256"], rel
    assert hand_edits(git_ops.open_repo(deploy), deploy).items == []
    # The approved release moves production.
    assert commit(deploy, root=spec_repo).status == "committed"
    assert _files(deploy, PROD) != before


def test_a_held_environment_that_was_never_deployed_stays_absent(repos: tuple[Path, Path]) -> None:
    spec_repo, deploy = repos
    assert commit(deploy, root=spec_repo, hold_environments=["production"]).status == "committed"
    assert _files(deploy, PROD) == {}
    assert not any(is_held(rel, ["production"]) for rel in _manifest(deploy))
    assert _files(deploy, "models/fraud-detector/kserve/staging/")


def test_is_held_matches_the_environment_component_only() -> None:
    assert is_held("models/m/kserve/production/kustomization.yaml", ["production"])
    assert is_held("models/m/prometheus/production/rules.yaml", ["production"])
    assert not is_held("models/m/kubeflow/pipeline.yaml", ["production"])
    assert not is_held("models/production/kserve/staging/x.yaml", ["production"])
    assert not is_held("prometheus/alertmanager/teams/production.yaml", ["production"])
