"""Rendering is a pure function of the specs: same bytes whatever the order, cwd, TZ or hash seed; nothing
is written on errors; `render --check` tells stale from current; deleted specs leave no orphans."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.output.tree import render_to
from compiler.output.writer import MANIFEST
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Registry, Target
from golden import REPO, SPECS, registry_of

EXAMPLES = sorted(SPECS.glob("*.yaml"))


class PlanDumpTarget(Target):
    """Renders the whole plan (so any nondeterminism in planning shows) plus a project-wide index."""

    name = "plandump"
    description = "test target"

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        yield OutputFile(f"models/{plan.name}/plandump/plan.json", "json", dataclasses.asdict(plan), comment=None)
        yield OutputFile(f"models/{plan.name}/plandump/monitors.yaml", "yaml",
                         [{"name": m.name, "kind": m.kind} for m in plan.monitors])

    def render_project(self, plans: Sequence[Plan], settings: Any) -> Iterable[OutputFile]:
        yield OutputFile("plandump/index.yaml", "yaml", [{"models": [p.name for p in plans]}])


def registry() -> Registry:
    return registry_of(PlanDumpTarget())


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec repository holding copies of the examples; the cwd is its root."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for path in EXAMPLES:
        shutil.copy(path, root / "specs" / path.name)
    monkeypatch.chdir(root)
    return root


def test_order_of_inputs_does_not_matter(project: Path, tmp_path: Path) -> None:
    paths = sorted((project / "specs").glob("*.yaml"))
    shuffled = paths[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != paths
    first, _ = render_to(tmp_path / "a", paths, registry=registry(), jobs=1)
    second, _ = render_to(tmp_path / "b", list(reversed(shuffled)), registry=registry(), jobs=1)
    assert first.ok
    assert second.ok
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert len(tree(tmp_path / "a")) == 2 * len(paths) + 2  # two per model, the index, the manifest


def test_parallel_and_serial_rendering_agree(project: Path, tmp_path: Path) -> None:
    render_to(tmp_path / "serial", registry=registry(), jobs=1)
    render_to(tmp_path / "parallel", registry=registry(), jobs=2)
    assert tree(tmp_path / "serial") == tree(tmp_path / "parallel")


def _render_cli(cwd: Path, out: Path, args: list[str], env: dict[str, str]) -> None:
    full_env = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-m", "compiler", "render", *args, "--out", str(out)], cwd=cwd,
                          env=full_env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_installed_targets_render_identically_across_environments(tmp_path: Path) -> None:
    """The real CLI and every installed target: other cwd, input order, TZ, locale and hash seed."""
    other_cwd = tmp_path / "elsewhere"
    other_cwd.mkdir()
    shuffled = [str(p) for p in EXAMPLES]
    random.Random(3).shuffle(shuffled)
    _render_cli(REPO, tmp_path / "one", [], {"TZ": "UTC", "PYTHONHASHSEED": "0", "LC_ALL": "C"})
    _render_cli(other_cwd, tmp_path / "two", shuffled,
                {"TZ": "Pacific/Chatham", "PYTHONHASHSEED": "4242", "LC_ALL": "C.UTF-8"})
    one, two = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert sorted(one) == sorted(two)
    different = [rel for rel in one if one[rel] != two[rel]]
    assert not different, f"differ between runs: {different}"
    assert len(one) > len(EXAMPLES)
    text = b"".join(one.values())
    assert str(tmp_path).encode() not in text, "absolute path in output"
    assert str(REPO).encode() not in text, "absolute path in output"


def test_nothing_is_written_when_a_spec_has_errors(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render_to(out, registry=registry(), jobs=1)
    before = tree(out)
    (project / "specs" / "broken.yaml").write_text((REPO / "tests/invalid/step-cycle.yaml").read_text())
    (project / "specs" / "fraud-detector.yaml").write_text(
        (project / "specs" / "fraud-detector.yaml").read_text().replace('version: "12"', 'version: "13"'))
    result, change = render_to(out, registry=registry(), jobs=1)
    assert change is None
    assert not result.ok
    assert tree(out) == before  # not even the valid, changed spec is written
    fresh = tmp_path / "fresh"
    render_to(fresh, registry=registry(), jobs=1)
    assert not fresh.exists()


def test_render_check_exit_codes(project: Path, tmp_path: Path, use_targets: Callable[[Registry], Registry]) -> None:
    use_targets(registry())
    out = str(tmp_path / "out")
    runner = CliRunner()
    assert runner.invoke(cli, ["render", "--out", out, "--check"]).exit_code == 1  # nothing rendered yet
    assert not Path(out).exists()
    assert runner.invoke(cli, ["render", "--out", out]).exit_code == 0
    assert runner.invoke(cli, ["render", "--out", out, "--check"]).exit_code == 0
    spec = project / "specs" / "churn-scorer.yaml"
    spec.write_text(spec.read_text().replace("threshold: 0.75", "threshold: 0.74"))
    before = tree(Path(out))
    assert runner.invoke(cli, ["render", "--out", out, "--check"]).exit_code == 1
    assert tree(Path(out)) == before  # --check writes nothing
    # Comments and formatting change the source hash only: the spec and plan digests stay.
    assert runner.invoke(cli, ["render", "--out", out]).exit_code == 0
    digests = json.loads((Path(out) / MANIFEST).read_text())["specs"]["specs/churn-scorer.yaml"]
    spec.write_text("# reformatted\n" + spec.read_text().replace("threshold: 0.74", "threshold:   0.74"))
    assert runner.invoke(cli, ["render", "--out", out]).exit_code == 0
    after = json.loads((Path(out) / MANIFEST).read_text())["specs"]["specs/churn-scorer.yaml"]
    assert after["source_sha256"] != digests["source_sha256"]
    assert (after["spec_digest"], after["plan_digest"]) == (digests["spec_digest"], digests["plan_digest"])


def test_deleting_a_spec_removes_its_files(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render_to(out, registry=registry(), jobs=1)
    assert (out / "models/txn-anomaly/plandump/plan.json").is_file()
    (out / "README.md").write_text("not mlspec's\n")  # files mlspec does not own are left alone
    (project / "specs" / "txn-anomaly.yaml").unlink()
    _, change = render_to(out, registry=registry(), jobs=1)
    assert change is not None
    assert sorted(change.removed) == ["models/txn-anomaly/plandump/monitors.yaml",
                                      "models/txn-anomaly/plandump/plan.json"]
    assert not (out / "models/txn-anomaly").exists()
    assert (out / "README.md").is_file()
    manifest = json.loads((out / MANIFEST).read_text())
    assert "specs/txn-anomaly.yaml" not in manifest["specs"]
    assert not [p for p in manifest["files"] if "txn-anomaly" in p]
    index = (out / "plandump/index.yaml").read_text()
    assert "txn-anomaly" not in index
    assert "churn-scorer" in index
