"""Shared helpers for the deployment-repository tests: real git repositories in temporary directories
and a tiny test target whose output is exact (the real targets are exercised by `make demo`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from compiler.planning.plan import Plan
from compiler.render import provenance
from compiler.render.plugins import OutputFile, Registry, Target

REPO = Path(__file__).resolve().parent.parent
FRAUD = (REPO / "specs" / "fraud-detector.yaml").read_text()


class ConfigTarget(Target):
    """One ConfigMap per model carrying the canary steps, a text file, and a project-wide index."""

    name = "cfg"
    description = "test target"

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        stages = [f"{s.name}={s.traffic:g}" for s in plan.rollout.stages] if plan.rollout else []
        yield OutputFile(f"models/{plan.name}/cfg/configmap.yaml", "yaml", [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": provenance.metadata(plan, plan.name, f"{plan.team}-prod"),
            "data": {"stages": ",".join(stages), "modelVersion": plan.model.version},
        }])
        yield OutputFile(f"models/{plan.name}/cfg/notes.txt", "text", f"model {plan.name} v{plan.model.version}\n")

    def render_project(self, plans: Sequence[Plan], settings: Any) -> Iterable[OutputFile]:
        yield OutputFile("cfg/models.yaml", "yaml", [{"models": [p.name for p in plans]}])


def registry() -> Registry:
    reg = Registry()
    reg.add(ConfigTarget())
    return reg


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def other_spec(name: str) -> str:
    return FRAUD.replace("fraud-detector", name)


def make_spec_repo(root: Path, specs: dict[str, str] | None = None) -> Path:
    repo = root / "specs-repo"
    (repo / "specs").mkdir(parents=True)
    for name, text in (specs or {"fraud-detector": FRAUD, "other-model": other_spec("other-model")}).items():
        (repo / "specs" / f"{name}.yaml").write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "specs")
    return repo


def make_deploy_repo(root: Path) -> tuple[Path, Path]:
    remote = root / "remote.git"
    deploy = root / "deploy"
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "init", "-q", "-b", "main", str(deploy))
    git(deploy, "remote", "add", "origin", str(remote))
    return deploy, remote


def set_traffic(spec_repo: Path, old: int, new: int, name: str = "fraud-detector") -> None:
    path = spec_repo / "specs" / f"{name}.yaml"
    text = path.read_text()
    changed = text.replace(f"{{traffic: {old},", f"{{traffic: {new},", 1)
    assert changed != text
    path.write_text(changed)


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}
