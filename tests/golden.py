"""Golden-file comparison. `pytest --update-golden` (or `make golden`) rewrites; review the diff after."""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from compiler.pipeline import RunResult, run
from compiler.render.plugins import Registry, Target

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"
SPECS = REPO / "specs"


def check_tree(actual: Mapping[str, bytes], golden_dir: Path, update: bool) -> None:
    """Every file in `golden_dir` must equal `actual`; missing and unexpected files both fail."""
    if update:
        shutil.rmtree(golden_dir, ignore_errors=True)
        for rel, data in actual.items():
            path = golden_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return
    expected = {p.relative_to(golden_dir).as_posix(): p.read_bytes()
                for p in sorted(golden_dir.rglob("*")) if p.is_file()} if golden_dir.is_dir() else {}
    problems = []
    for rel in sorted(set(expected) - set(actual)):
        problems.append(f"missing from output (golden has it): {rel}")
    for rel in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected output (not in golden): {rel}")
    for rel in sorted(set(actual) & set(expected)):
        if actual[rel] != expected[rel]:
            diff = difflib.unified_diff(expected[rel].decode().splitlines(), actual[rel].decode().splitlines(),
                                        f"golden/{rel}", f"output/{rel}", lineterm="", n=2)
            problems.append("\n".join(list(diff)[:60]))
    assert not problems, "golden mismatch (run `make golden` and review the diff):\n" + "\n".join(problems)


def check_text(actual: str, golden_file: Path, update: bool) -> None:
    if update:
        golden_file.parent.mkdir(parents=True, exist_ok=True)
        golden_file.write_text(actual)
        return
    assert golden_file.is_file(), f"{golden_file} is missing: run `make golden`"
    expected = golden_file.read_text()
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), str(golden_file), "actual",
                                    lineterm="")
        raise AssertionError("golden mismatch:\n" + "\n".join(diff))


def registry_of(*targets: Target) -> Registry:
    registry = Registry()
    for target in targets:
        registry.add(target)
    return registry


def render_examples(*targets: Target, specs: Sequence[Path] | None = None) -> RunResult:
    """Render the example specs (default: all of specs/) with only the given targets, in memory."""
    result = run(list(specs) if specs else [SPECS], root=REPO, render=True, registry=registry_of(*targets), jobs=1)
    assert result.ok, "\n".join(d.to_text() for d in result.diagnostics)
    return result


def edited_example(directory: Path, edit: Callable[[dict[str, Any]], None], name: str = "fraud-detector") -> Path:
    """The example spec `name` changed by `edit`, written as `directory/<name>.yaml`."""
    data = yaml.safe_load((SPECS / f"{name}.yaml").read_text())
    edit(data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
