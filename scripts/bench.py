"""Benchmark (`make bench`): lint and render 1,000 generated specs, and one cold CLI lint.

Budgets from the issue: lint of 1,000 specs <= 1.5 s wall on 2 cores; one spec, cold CLI, <= 0.3 s.
Measured as subprocesses of the installed `mlspec` (what a user waits for), best of several runs.
The in-process rows split the lint time into the core and the installed targets' checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_specs import generate  # noqa: E402

COUNT = 1000
LINT_BUDGET = 1.5
COLD_BUDGET = 0.3


def mlspec() -> list[str]:
    script = Path(sys.executable).parent / "mlspec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "compiler"]


def wall(command: list[str], cwd: Path, expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def best(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def in_process(specs: Path, with_targets: bool) -> float:
    from compiler.pipeline import run
    from compiler.targets import Registry, discover

    registry = discover() if with_targets else Registry()
    start = time.perf_counter()
    result = run([specs], registry=registry)
    elapsed = time.perf_counter() - start
    assert result.ok, result.diagnostics[:3]
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as tmp:
        root = Path(tmp)
        (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
        specs = root / "specs"
        generate(COUNT, specs)
        one = specs / "model-0000.yaml"
        cli = mlspec()
        wall([*cli, "lint", str(one)], root)  # warm the OS file cache and .pyc files once

        rows: list[tuple[str, float, float | None]] = []
        rows.append((f"lint {COUNT} specs (CLI, best of 3)", best(3, lambda: wall([*cli, "lint", "specs"], root)),
                     LINT_BUDGET))
        rows.append(("lint 1 spec, cold CLI (best of 5)", best(5, lambda: wall([*cli, "lint", str(one)], root)),
                     COLD_BUDGET))

        def render() -> float:
            out = root / "out"
            shutil.rmtree(out, ignore_errors=True)
            return wall([*cli, "render", "specs", "--out", str(out)], root)

        rows.append((f"render {COUNT} specs, all targets (CLI, best of 2)", best(2, render), None))
        os.chdir(root)
        rows.append((f"  in-process lint {COUNT}, core only", best(3, lambda: in_process(specs, False)), None))
        rows.append((f"  in-process lint {COUNT}, core + targets", best(3, lambda: in_process(specs, True)), None))

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':{width}}  {'seconds':>8}  {'budget':>6}  verdict")
    over = False
    for label, seconds, budget in rows:
        verdict = "" if budget is None else ("ok" if seconds <= budget else "OVER")
        over |= verdict == "OVER"
        shown = "" if budget is None else f"{budget:.2f}"
        print(f"{label:{width}}  {seconds:8.3f}  {shown:>6}  {verdict}")
    print(f"(cores: {os.cpu_count()}, python {sys.version.split()[0]})")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
