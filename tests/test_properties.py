"""Property tests: whatever is done to a valid spec, loading and validating it yields diagnostics, never an
exception, and every diagnostic is catalogued and (for anything past decoding) positioned."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.codes import CODES
from compiler.language.yamlsource import iter_paths, load_document
from compiler.pipeline import Context, SpecResult, check_spec, make_context
from compiler.render.plugins import Registry
from golden import SPECS

EXAMPLES = sorted(SPECS.glob("*.yaml"))
# Decoding problems concern the file as a whole and may have no line.
UNPOSITIONED = {"MLS001", "MLS002"}


PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def context() -> Context:
    return make_context(Path(SPECS.parent), Registry())


@cache
def example(index: int) -> tuple[bytes, Any]:
    raw = EXAMPLES[index].read_bytes()
    doc, _ = load_document(raw, "x.yaml")
    assert doc is not None
    return raw, doc.data


def check(raw: bytes) -> SpecResult:
    result = check_spec(raw, "mutant.yaml", "mutant.yaml", context())
    for diag in result.diagnostics:
        assert diag.code in CODES, diag
        assert diag.file == "mutant.yaml", diag
        if diag.code not in UNPOSITIONED:
            assert diag.line > 0, diag
            assert diag.col > 0, diag
    return result


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "latest", "../x", "1%", "150ms", "0 3 * * 1", "-1", "yes", "no", "\u202e", "\U0001f600",
                     "a" * 300, "kind", "data_drift", "{{x}}", "${{ secrets.X }}", "*", "&a"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)
example_index = st.integers(min_value=0, max_value=len(EXAMPLES) - 1)


def _set(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        out = dict(data)
        if delete and not rest:
            out.pop(head, None)
        else:
            out[head] = _set(data[head], rest, value, delete)
        return out
    out_list = list(data)
    if delete and not rest:
        del out_list[head]
    else:
        out_list[head] = _set(data[head], rest, value, delete)
    return out_list


@PROFILE
@given(index=example_index, data=st.data())
def test_structural_mutations_give_diagnostics(index: int, data: st.DataObject) -> None:
    _, doc = example(index)
    paths = [p for p in iter_paths(doc) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    action = data.draw(st.sampled_from(["delete", "replace", "wrap"]), label="action")
    if action == "delete":
        mutant = _set(doc, path, None, delete=True)
    elif action == "replace":
        mutant = _set(doc, path, data.draw(values, label="value"), delete=False)
    else:  # the right value in the wrong shape
        mutant = _set(doc, path, [doc_value(doc, path)], delete=False)
    # ensure_ascii=False: JSON's surrogate-pair escapes are a known core bug (see test_loader), not noise here.
    check(json.dumps(mutant, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def doc_value(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@PROFILE
@given(index=example_index, data=st.data())
def test_textual_mutations_give_diagnostics(index: int, data: st.DataObject) -> None:
    raw, _ = example(index)
    lines = raw.split(b"\n")
    action = data.draw(st.sampled_from(["duplicate-line", "insert", "truncate", "bytes", "indent"]), label="action")
    if action == "duplicate-line":  # duplicate keys, duplicate list items, broken flow collections
        at = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(at, lines[at])
        mutant = b"\n".join(lines)
    elif action == "insert":
        at = data.draw(st.integers(0, len(raw)))
        text = data.draw(st.one_of(st.text(max_size=40), st.sampled_from(
            ["\t", ": ", "- ", "&a ", "*a", "!!python/object:os.system ", "<<: {}", "---\n", "{", "]", "\x00", "\ufeff",
             "%YAML 1.1\n", "? ", "|", "'", '"'])), label="text")
        mutant = raw[:at] + text.encode("utf-8", "surrogatepass") + raw[at:]
    elif action == "truncate":
        mutant = raw[: data.draw(st.integers(0, len(raw)))]
    elif action == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        mutant = raw[:at] + data.draw(st.binary(min_size=1, max_size=8), label="bytes") + raw[at + 4:]
    else:  # shift one line's indentation, which changes structure
        at = data.draw(st.integers(0, len(lines) - 1))
        shift = data.draw(st.sampled_from([b" ", b"  ", b"    "]))
        lines[at] = shift + lines[at] if data.draw(st.booleans()) else lines[at].removeprefix(shift)
        mutant = b"\n".join(lines)
    check(mutant)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_diagnostics(raw: bytes) -> None:
    result = check(raw)
    assert result.diagnostics, "random bytes are never a valid spec"


def test_unmutated_examples_are_clean() -> None:
    for index in range(len(EXAMPLES)):
        raw, _ = example(index)
        assert check(raw).diagnostics == [], EXAMPLES[index]
