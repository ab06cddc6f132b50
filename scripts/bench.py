"""Benchmark (`make bench`): mlspec against Kapitan on the same machine, in the same run.

The yardstick is Kapitan 0.36.3 compiling N targets x 4 trivial Jinja templates, installed from PyPI
into its own throwaway environment (.bench/kapitan-venv; never a project dependency). Every mlspec figure
is a subprocess of the installed `mlspec` (what a user waits for) on N generated specs
(scripts/gen_specs.py), and is judged as a ratio to Kapitan's time in this run (the best of three, as
most mlspec rows are), so a loaded machine slows both sides alike. Peak memory is the largest of the
whole process tree's (by proportional set size), sampled.

    python scripts/bench.py                  # N = 1,000, every goal; exit 1 when one is missed
    python scripts/bench.py --counts 1000,3000,10000 --no-kapitan   # the growth curve

Goals (issue 14): render into an empty directory <= 0.30x Kapitan; render when nothing changed <= 0.05x;
render after one spec changed <= 0.10x; lint <= 0.10x; one spec cold CLI lint <= 0.3 s; peak <= 300 MB.
Lint results are cached by spec content (compiler.output.lint_cache), so lint is measured twice: with an empty
cache (every spec checked: what the lint goal and the one-spec cold-CLI goal measure) and with a warm
one (nothing changed since the last lint: reported for information, no goal).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from gen_specs import generate  # noqa: E402

KAPITAN = "kapitan==0.36.3"
KAPITAN_VENV = REPO / ".bench" / "kapitan-venv"
COLD_BUDGET = 0.3
MEMORY_BUDGET_MB = 300.0


@dataclass
class Row:
    label: str
    seconds: float
    peak_mb: float
    ratio_goal: float | None = None  # a goal as a ratio to Kapitan's time
    absolute_goal: float | None = None  # a goal in seconds


def mlspec() -> list[str]:
    script = Path(sys.executable).parent / "mlspec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "compiler"]


def _memory_kb(pid: int) -> int:
    """What `pid` holds in memory, in KiB: its proportional set size (a page shared by n processes counts
    1/n in each), or its resident set where the kernel does not report that."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_memory_kb(pid: int) -> int:
    """The memory of `pid` and all its descendants, in KiB (Linux /proc). Summed by proportional set size:
    forked workers and children share most of their pages with the parent, and summing resident sets
    counted those pages once per process (a one-spec render with its forked child read 155 MB for ~115)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += _memory_kb(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None, expect: int = 0,
            sample: bool = False) -> tuple[float, float]:
    """Wall seconds of one run of `command`, and with `sample` the peak memory of its process tree (MB, by
    proportional set size; 0.0 without).

    A sampled run is not a timed one (`best` takes them apart): reading a process's `smaps_rollup` walks its
    page tables under its memory-map lock, 3-4 ms a read here, every 20 ms. Beside a lint of 1,000 specs
    that was ~0.1 s of the CPU the lint's own two processes were using on this 2-core VM, and its page
    faults waited for the lock: the figures of parallel mlspec commands were inflated more than Kapitan's,
    which runs on one core.

    What earlier commands wrote is flushed first, untimed: without it, the kernel's write-back of Kapitan's
    4,000 files (or of the spec generator's, or of a render) runs during whatever is measured next, and on
    this kind of VM a lint measured right after Kapitan took 0.84 s, against 0.77-0.81 s on a quiet disk.
    Each command is timed from a flushed disk; its own writes, and the `sync` mlspec's writer makes, stay
    in its time."""
    os.sync()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_memory_kb(process.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=watch, daemon=True)
    if sample:
        sampler.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    if sample:
        sampler.join()
    if process.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{err.decode()[-2000:]}")
    return elapsed, peak / 1024


Run = Callable[[bool], tuple[float, float]]  # one run of a measurement: `sample` -> (seconds, peak MB)


def best(runs: int, run: Run) -> tuple[float, float]:
    """The best of `runs` timed runs, and the peak memory of one more run, sampled and not timed."""
    seconds = min(run(False)[0] for _ in range(runs))
    return seconds, run(True)[1]


# --- the yardstick ------------------------------------------------------------------------------

def kapitan() -> Path:
    binary = KAPITAN_VENV / "bin" / "kapitan"
    if not binary.exists():
        print(f"installing {KAPITAN} into {KAPITAN_VENV} (once)", file=sys.stderr)
        shutil.rmtree(KAPITAN_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(KAPITAN_VENV)], check=True)
        subprocess.run([str(KAPITAN_VENV / "bin" / "pip"), "install", "--quiet", KAPITAN], check=True)
    return binary


TEMPLATES = {
    "deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ inventory.parameters.name }}\n"
                       "spec:\n  replicas: {{ inventory.parameters.replicas }}\n",
    "service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ inventory.parameters.name }}\n",
    "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ inventory.parameters.name }}-config\n"
                   "data:\n  team: {{ inventory.parameters.team }}\n",
    "README.md": "# {{ inventory.parameters.name }}\n\nOwned by {{ inventory.parameters.team }}.\n",
}


def kapitan_project(root: Path, count: int) -> None:
    (root / "templates").mkdir(parents=True)
    for name, text in TEMPLATES.items():
        (root / "templates" / name).write_text(text)
    classes = root / "inventory" / "classes"
    classes.mkdir(parents=True)
    (classes / "common.yml").write_text(
        "parameters:\n  kapitan:\n    compile:\n      - output_path: .\n        input_type: jinja2\n"
        "        input_paths:\n          - templates/\n")
    targets = root / "inventory" / "targets"
    targets.mkdir(parents=True)
    for i in range(count):
        name = f"model-{i:04d}"
        (targets / f"{name}.yml").write_text(
            f"classes:\n  - common\nparameters:\n  name: {name}\n  team: team-{i % 8}\n  replicas: {1 + i % 3}\n"
            f"  kapitan:\n    vars:\n      target: {name}\n")


def yardstick_row(binary: Path, project: Path, count: int, runs: int = 3) -> Row:
    """Kapitan compiling `project`, best of `runs` like the mlspec rows: one run of it varied from 5.7 s
    to 9.4 s on the same machine, and every ratio is divided by it.

    Each run compiles into an output directory of its own instead of deleting the last run's: this VM's
    file system discards freed blocks as it deletes (ext4 `discard`), and for a while after 4,000 files
    were deleted, creating files cost several times more (see `set_aside`)."""
    runs_done = [0]

    def compile_once(sample: bool) -> tuple[float, float]:
        runs_done[0] += 1
        return measure([str(binary), "compile", "--output-path", str(project / f"run-{runs_done[0]}")], project,
                       sample=sample)

    return Row(f"Kapitan 0.36.3: compile {count} targets x 4 templates (best of {runs})", *best(runs, compile_once))


def set_aside(work: Path) -> Path | None:
    """Move an earlier run's tree out of the way, to be deleted after this run has measured (`main`).

    Deleting it first made this run measure the file system's recovery: with ext4's `discard` on this
    VM, for minutes after ~60k files are deleted, each new file costs several times more to create (a
    one-spec-per-file render of 200 specs spent 3.3-3.9 s of system time right after deleting its
    previous output, 0.4 s on a settled disk)."""
    if not work.exists():
        return None
    aside = work.with_name(f"{work.name}.old-{os.getpid()}-{time.time_ns()}")
    work.rename(aside)
    return aside


# --- mlspec --------------------------------------------------------------------------------------

def compile_bytecode() -> None:
    """Byte-compile the installed compiler and targets, as `pip install` does for a user's install.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (set on the machines this runs on) would
    otherwise compile ~100 modules on every cold start, which no user of an installed mlspec pays."""
    subprocess.run([sys.executable, "-c", "import compileall, os, compiler, targets\n"
                    "for package in (compiler, targets):\n"
                    "    compileall.compile_dir(os.path.dirname(package.__file__), quiet=1)"], check=True)


def mlspec_rows(root: Path, count: int, cli: list[str]) -> list[Row]:
    specs = root / "specs"
    one = specs / "model-0000.yaml"
    out = root / "out"
    env = {**os.environ, "MLSPEC_CACHE_DIR": str(root / "cache")}
    lint_cache = root / "lint-cache"
    lint_env = {**os.environ, "MLSPEC_CACHE_DIR": str(lint_cache)}
    compile_bytecode()
    measure([*cli, "lint", str(one)], root, lint_env)  # warm the OS file cache once

    def lint_cold(sample: bool, *args: str) -> tuple[float, float]:
        shutil.rmtree(lint_cache, ignore_errors=True)
        return measure([*cli, "lint", *args], root, lint_env, sample=sample)

    def cold(sample: bool) -> tuple[float, float]:
        # The sampled run renders into a directory of its own: the timed one's tree is what the next rows
        # render again (and deleting it would slow the file system, see `set_aside`).
        where = root / "memory" if sample else root
        return measure([*cli, "render", "--out", str(where / "out")], root,
                       {**env, "MLSPEC_CACHE_DIR": str(where / "cache")}, sample=sample)

    def again(sample: bool, *args: str) -> tuple[float, float]:
        return measure([*cli, *args], root, env if args[0] == "render" else lint_env, sample=sample)

    rows = [Row(f"lint {count} specs, empty cache (CLI, best of 3)", *best(3, lint_cold), ratio_goal=0.10)]
    rows.append(Row(f"lint {count} specs, nothing changed (warm cache, best of 3)",
                    *best(3, lambda sample: again(sample, "lint"))))
    rows.append(Row("lint 1 spec, cold CLI, empty cache (best of 5)",
                    *best(5, lambda sample: lint_cold(sample, str(one))), absolute_goal=COLD_BUDGET))
    measure([*cli, "lint", str(one)], root, lint_env)
    rows.append(Row("lint 1 spec, cold CLI, warm cache (best of 5)",
                    *best(5, lambda sample: again(sample, "lint", str(one)))))
    rows.append(Row(f"render {count} specs into an empty directory", *best(1, cold), ratio_goal=0.30))
    rows.append(Row("render again, nothing changed (best of 3)",
                    *best(3, lambda sample: again(sample, "render", "--out", str(out))), ratio_goal=0.05))
    edits = [0]

    def one_changed(sample: bool) -> tuple[float, float]:
        edits[0] += 1
        target = specs / f"model-{count // 2:04d}.yaml"
        text = target.read_text()
        target.write_text(text + f"# edit {edits[0]}\n" if edits[0] % 2 else
                          text.replace("description:", "description: edited", 1))
        return measure([*cli, "render", "--out", str(out)], root, env, sample=sample)

    rows.append(Row("render after one spec changed (best of 3)", *best(3, one_changed), ratio_goal=0.10))
    rows.append(Row("floor: the rendered tree written by plain open()/write() (no goal)",
                    *file_system_floor(out, root)))
    return rows


FLOOR = """
import os, sys, time
source, target = sys.argv[1], sys.argv[2]
files = []
for folder, _, names in os.walk(source):
    for name in names:
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            files.append((os.path.relpath(path, source), handle.read()))
start, made = time.perf_counter(), set()
for rel, data in files:
    parent = os.path.dirname(os.path.join(target, rel))
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    with open(os.path.join(target, rel), "xb") as handle:
        handle.write(data)
os.sync()
print(time.perf_counter() - start)
"""


def file_system_floor(out: Path, root: Path) -> tuple[float, float]:
    """What writing mlspec's output costs this machine's file system right now, without mlspec: every file
    of the rendered tree created by a plain loop, then one sync (as the writer does). On this kind of VM
    creating the same 31k files takes 1.5 s to 20 s depending on how many files were deleted recently,
    which no ratio to Kapitan (4,000 small files) cancels: this row says how much of the empty-directory
    render was the disk."""
    found = subprocess.run([sys.executable, "-c", FLOOR, str(out), str(root / "floor")], check=True,
                           capture_output=True, text=True)
    return float(found.stdout.strip()), 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1000", help="comma-separated spec counts (default 1000)")
    parser.add_argument("--no-kapitan", action="store_true", help="skip the yardstick (growth curves)")
    parser.add_argument("--work", type=Path, default=REPO / ".bench" / "work")
    parser.add_argument("--keep", action="store_true",
                        help="leave the last work tree (an earlier run's is set aside at the start and deleted "
                             "only after this run has measured: deleting ~60k files slows file creation for minutes)")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    cli = mlspec()
    missed = False
    old: list[Path] = []  # earlier trees, deleted once everything is measured
    for count in counts:
        old.extend(aside for aside in [set_aside(args.work)] if aside is not None)
        root = args.work / "mlspec"
        root.mkdir(parents=True)
        (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
        generate(count, root / "specs")
        load_before = os.getloadavg()
        yardstick: float | None = None
        rows: list[Row] = []
        if not args.no_kapitan:
            kap = args.work / "kapitan"
            kapitan_project(kap, count)
            rows.append(yardstick_row(kapitan(), kap, count))
            yardstick = rows[-1].seconds
        rows.extend(mlspec_rows(root, count, cli))
        load_after = os.getloadavg()
        width = max(len(r.label) for r in rows)
        print(f"\n{count} specs   load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
              f"({os.cpu_count()} cores, python {sys.version.split()[0]})")
        print(f"{'measurement':{width}}  {'seconds':>8}  {'peak MB':>7}  {'ratio':>6}  {'goal':>6}  verdict")
        for row in rows:
            ratio = row.seconds / yardstick if yardstick else None
            goal, verdict = "", ""
            if row.ratio_goal is not None and ratio is not None:
                goal, ok = f"{row.ratio_goal:.2f}x", ratio <= row.ratio_goal
                verdict = "ok" if ok else "MISSED"
            elif row.absolute_goal is not None:
                goal, ok = f"{row.absolute_goal:.2f}s", row.seconds <= row.absolute_goal
                verdict = "ok" if ok else "MISSED"
            if row.peak_mb > MEMORY_BUDGET_MB and not row.label.startswith("Kapitan"):
                verdict = (verdict + " MEMORY").strip()
            missed |= "MISSED" in verdict or "MEMORY" in verdict
            shown = f"{ratio:.3f}" if ratio is not None else ""
            print(f"{row.label:{width}}  {row.seconds:8.3f}  {row.peak_mb:7.0f}  {shown:>6}  {goal:>6}  {verdict}")
    for tree in old if args.keep else [*old, args.work]:
        shutil.rmtree(tree, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
