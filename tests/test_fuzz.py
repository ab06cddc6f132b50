"""Fuzzing the whole pipeline with structural and value mutations of the example specs (issue 10).

The contract: whatever a pull request does to a spec, mlspec answers with diagnostics. No traceback, no
exit 3, and a spec that lints clean renders with every target without a target failure (MLS5xx).
Driven through the library (`compiler.pipeline.run`, lint then render) and the CLI (click's CliRunner:
`mlspec lint` and `mlspec render --out`).

Mutations mix shapes (delete, duplicate, wrap, swap two subtrees, splice a subtree or graft a list
item from another example, add an unknown key) with values chosen to sit on the edges of what lint accepts (zero,
tiny and huge numbers, the shortest and longest durations and quantities, names at the length limit,
empty and whitespace strings, control characters, template and shell syntax), one to four per spec,
so plenty of mutants still lint clean and reach the renderers. `MLSPEC_FUZZ_EXAMPLES` scales the run
(CI keeps the default, about 30 s on two cores).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.cli import cli
from compiler.diagnostics import has_errors
from compiler.language import units
from compiler.language.yamlsource import iter_paths, load_document
from compiler.pipeline import run
from golden import SPECS

EXAMPLES = sorted(SPECS.glob("*.yaml"))
SCALE = int(os.environ.get("MLSPEC_FUZZ_EXAMPLES", "1"))
LIBRARY = settings(max_examples=250 * SCALE, deadline=None, derandomize=SCALE == 1,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLI = settings(max_examples=25 * SCALE, deadline=None, derandomize=SCALE == 1,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TARGET_FAULTS = ("MLS501", "MLS502", "MLS503", "MLS504")

EDGE_STRINGS = [
    # durations, quantities, percentages, crons and names at the edges of what lint accepts
    "1ms", "1s", "59s", "1m", "2m", "1h30m", "7d", "52w", "9999w", "0s",
    "0", "1", "0.5", ".5", "1m", "100m", "1Ki", "1Pi", "999999999999Gi", "16G",
    "0%", "100%", "0.001%", "50 %", "101%",
    "* * * * *", "0 0 29 2 *", "59 23 31 12 6", "*/5 * * * *",
    "a", "a" * 63, "a" * 64, "x-y", "latest", "none", "",
    # hostile text
    " ", "\t", "x\n", "x\r", "\x00", "\u202e", "\U0001f600", "${{ github.token }}", "$(id)", "`id`",
    "{{ x }}", "{% raw %}", "../../etc/passwd", "/abs", "a" * 2000, "'", '"', "\\", "- x", ": y", "#",
    "yes", "no", "null", "~", "1e3", "0x10", "NaN",
]
EDGE_DURATIONS = ["1ms", "999ms", "1s", "59s", "2m", "61m", "1h30m", "7d", "52w", "1w1d1h1m1s1ms", "100000000w"]
EDGE_QUANTITIES = ["0", "1", "0.5", ".5", "0.001", "1m", "999m", "1k", "1M", "1Ki", "1Pi", "999999999999Gi", "0.1Mi"]
EDGE_NUMBERS = [0, 1, -1, 2, 0.0001, 0.5, 0.999999, 1.0, 16, 99.99, 100, 1000, 1001, 10**9, 10**20, 1e-300, 1e300]


@cache
def example(index: int) -> Any:
    doc, _ = load_document(EXAMPLES[index].read_bytes(), "x.yaml")
    assert doc is not None
    return doc.data


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _delete(data: Any, path: tuple[Any, ...]) -> None:
    parent = _get(data, path[:-1])
    del parent[path[-1]]


def edge_value(original: Any, draw: Any) -> Any:
    if isinstance(original, bool):
        return draw(st.sampled_from([not original, None, "true", 1]))
    if isinstance(original, int | float):
        return draw(st.one_of(st.sampled_from(EDGE_NUMBERS), st.floats(allow_nan=False, allow_infinity=False),
                              st.sampled_from([float("nan"), float("inf"), str(original), None])))
    if isinstance(original, str) and draw(st.booleans()):  # an edge of the value's own kind, often lint-clean
        if units.duration_ms(original):
            return draw(st.sampled_from(EDGE_DURATIONS))
        if units.QUANTITY_RE.fullmatch(original):
            return draw(st.sampled_from(EDGE_QUANTITIES))
    if isinstance(original, str):
        return draw(st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=12),
                              st.sampled_from([original + "\n", " " + original, original * 3, original.upper(),
                                               original[:-1], original + "-x"])))
    return draw(st.sampled_from([None, [], {}, "x", 0]))


def mutate(data: Any, draw: Any) -> Any:
    """One structural or value mutation, in place; returns the data (possibly a new root)."""
    paths = [p for p in iter_paths(data) if p]
    if not paths:
        return data
    path = draw(st.sampled_from(paths))
    node = _get(data, path)
    action = draw(st.sampled_from(["value", "value", "value", "delete", "duplicate", "wrap", "swap", "splice",
                                   "graft", "unknown-key"]))
    if action == "value" and not isinstance(node, dict | list):
        _put(data, path, edge_value(node, draw))
    elif action == "delete":
        _delete(data, path)
    elif action == "duplicate" and isinstance(node, list) and node:
        node.append(copy.deepcopy(node[draw(st.integers(0, len(node) - 1))]))
    elif action == "wrap":
        _put(data, path, [node])
    elif action == "swap":
        other = draw(st.sampled_from(paths))
        if other[: len(path)] != path and path[: len(other)] != other:
            a, b = copy.deepcopy(node), copy.deepcopy(_get(data, other))
            _put(data, path, b)
            _put(data, other, a)
    elif action == "splice":  # the same place in another example: valid pieces in a new combination
        donor = example(draw(st.integers(0, len(EXAMPLES) - 1)))
        try:
            piece = _get(donor, path)
        except (KeyError, IndexError, TypeError):
            return data
        _put(data, path, copy.deepcopy(piece))
    elif action == "graft" and isinstance(node, list):  # an item from the same list in another example
        donor = example(draw(st.integers(0, len(EXAMPLES) - 1)))
        try:
            items = _get(donor, path)
        except (KeyError, IndexError, TypeError):
            return data
        if isinstance(items, list) and items:
            node.append(copy.deepcopy(items[draw(st.integers(0, len(items) - 1))]))
    elif action == "unknown-key" and isinstance(node, dict):
        node[draw(st.sampled_from(["extra", "kind", "name", "for", "<<", ""]))] = "x"
    return data


def mutant(draw: Any) -> tuple[int, Any]:
    index = draw(st.integers(0, len(EXAMPLES) - 1))
    data = copy.deepcopy(example(index))
    count = draw(st.integers(1, 4))
    for _ in range(count):
        data = mutate(data, draw)
    STATS["mutations"] += count
    return index, data


def write_repo(root: Path, data: Any) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "specs").mkdir(exist_ok=True)
    spec = root / "specs" / "mutant.yaml"
    # JSON is YAML; ensure_ascii=False keeps non-ASCII text as text, surrogatepass keeps lone surrogates
    spec.write_bytes(json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass"))
    return spec


STATS = {"library": 0, "library_clean": 0, "cli": 0, "cli_clean": 0, "mutations": 0}


PATCH_RENDER_CODES = {"MLS735", "MLS736"}


@LIBRARY
@given(st.data())
def test_library_lint_then_render(data: st.DataObject) -> None:
    _, spec_data = mutant(data.draw)
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_repo(Path(tmp), spec_data)
        linted = run([spec], root=Path(tmp), jobs=1)
        faults = [d.to_text() for d in linted.diagnostics if d.code in TARGET_FAULTS]
        assert not faults, faults
        STATS["library"] += 1
        if has_errors(linted.diagnostics):
            return
        STATS["library_clean"] += 1
        rendered = run([spec], root=Path(tmp), render=True, jobs=1)
        # A declared patch is checked against the rendered objects, so it can only fail at render: with a
        # positioned diagnostic (MLS735/MLS736), never a crash. Everything else must render.
        problems = [d.to_text() for d in rendered.diagnostics if d.is_error and d.code not in PATCH_RENDER_CODES]
        assert not problems, ("a spec that lints clean must render", problems)
        assert all(d.line for d in rendered.diagnostics if d.code in PATCH_RENDER_CODES)
        assert rendered.files()


@CLI
@given(st.data())
def test_cli_lint_and_render_never_exit_3(data: st.DataObject) -> None:
    _, spec_data = mutant(data.draw)
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        write_repo(Path(tmp), spec_data)
        out = Path(tmp) / "deploy"
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            linted = runner.invoke(cli, ["lint", "--format", "json", "specs"])
            rendered = runner.invoke(cli, ["render", "--out", str(out), "specs"])
        finally:
            os.chdir(cwd)
        STATS["cli"] += 1
        for result in (linted, rendered):
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                result.exception, result.output)
            assert result.exit_code in (0, 1), (result.exit_code, result.output)
            assert "Traceback" not in result.output
        diags = json.loads(linted.stdout)
        assert not [d for d in diags if d["code"] in TARGET_FAULTS], diags
        if linted.exit_code == 0:
            STATS["cli_clean"] += 1
            assert rendered.exit_code == 0, rendered.output
            assert any(out.rglob("*.yaml"))
        else:
            assert rendered.exit_code == 1
            assert not out.exists() or not any(out.rglob("*.yaml")), "nothing is written on an error"


def test_fuzz_reaches_the_renderers() -> None:
    """The mutations must leave enough specs lint-clean to exercise rendering, or the fuzz proves little."""
    print(f"fuzz: {STATS}")
    if STATS["library"] == 0:  # run alone: nothing to judge
        return
    assert STATS["library_clean"] >= STATS["library"] // 20, STATS
