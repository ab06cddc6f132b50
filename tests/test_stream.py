"""`mlspec render --out -`: the objects a GitOps engine applies, equal to a real `kustomize build`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tools import kustomize_build

from compiler.cli import cli
from compiler.output.stream import StreamError, app_folder, objects
from compiler.pipeline import run
from golden import SPECS

PROJECT = "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {repoURL: 'https://git.example.com/deploy.git'}\n"


def _numbers(value: Any) -> Any:
    """kustomize re-emits `100.0` as `100`: the same number to the API server."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical(found: list[Any]) -> list[str]:
    return sorted(json.dumps(_numbers(o), sort_keys=True) for o in found)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream") / "project"
    shutil.copytree(SPECS, root / "specs")
    (root / "mlspec.yaml").write_text(PROJECT)
    return root


@pytest.fixture(scope="module")
def tree(project: Path) -> tuple[dict[str, bytes], Path]:
    result = run(None, root=project, render=True)
    assert result.ok
    files = result.files()
    out = project.parent / "out"
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return files, out


def test_every_app_streams_what_kustomize_builds(tree: tuple[dict[str, bytes], Path]) -> None:
    files, out = tree
    apps = sorted(p.stem for p in (out / "gitops/argocd/applications").glob("*.yaml"))
    assert len(apps) == 14
    for app in apps:
        folder = app_folder(files, app)
        assert canonical(objects(files, folder)) == canonical(kustomize_build(out / folder)), app
    assert canonical(objects(files)) == canonical(kustomize_build(out))


def test_out_dash_streams_to_stdout_and_writes_nothing(project: Path, tree: tuple[dict[str, bytes], Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, out = tree
    monkeypatch.chdir(project)
    before = sorted(p.as_posix() for p in project.rglob("*"))
    result = CliRunner().invoke(cli, ["render", "--out", "-", "--app", "fraud-detector-production"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.as_posix() for p in project.rglob("*")) == before  # no directory named "-", no manifest
    assert not os.path.exists(project / "-")
    streamed = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    assert canonical(streamed) == canonical(kustomize_build(out / "models/fraud-detector/gitops/production"))
    assert [o["kind"] for o in streamed] == ["ServiceAccount", "InferenceService", "InferenceService",
                                             "VirtualService", "PrometheusRule"]
    again = CliRunner().invoke(cli, ["render", "--out", "-", "--app", "fraud-detector-production"])
    assert again.stdout == result.stdout  # byte-stable


def test_unknown_or_hostile_app_names_are_diagnostics(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    for name, message in (("nope", "no Argo CD Application"), ("../../etc", "is not an app name"),
                          ("a;rm -rf /", "is not an app name")):
        result = CliRunner().invoke(cli, ["render", "--out", "-", "--app", name])
        assert result.exit_code == 1, (name, result.output)
        assert "MLS291" in result.stderr
        assert message in result.stderr
        assert result.stdout == ""


def test_usage_errors(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert CliRunner().invoke(cli, ["render", "--out", "-", "--check"]).exit_code == 2
    assert CliRunner().invoke(cli, ["render", "--out", str(project / "x"), "--app", "a"]).exit_code == 2


def test_unsupported_kustomize_features_are_refused_not_misapplied() -> None:
    files = {"kustomization.yaml": b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                  b"resources: [a.yaml]\nnamePrefix: x-\n",
             "a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}
    with pytest.raises(StreamError, match="namePrefix"):
        objects(files)
    with pytest.raises(StreamError, match=r"has no kustomization\.yaml"):
        objects({"a.yaml": files["a.yaml"]})


def test_diagnostics_never_enter_the_stream(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    (project / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")  # OPS001: a warning
    try:
        result = CliRunner().invoke(cli, ["render", "--out", "-", "--format", "json", "--app", "txn-anomaly-staging"])
    finally:
        (project / "mlspec.yaml").write_text(PROJECT)
    assert result.exit_code == 0
    assert "OPS001" in result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    assert docs
    assert all("kind" in d and "metadata" in d for d in docs)
