"""The fast canonical emitter writes exactly the bytes of the reference (libyaml through CanonicalDumper):
over every golden YAML file, over everything 12 generated specs render, and over random plain data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from compiler.pipeline import run
from compiler.render import canonical_yaml, memo, serialize, yaml_reference
from compiler.render.serialize import dump_yaml, dump_yaml_reference, pretty_json
from golden import GOLDEN, REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import generate

GOLDEN_YAML = sorted(p for p in GOLDEN.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def test_golden_files_exist() -> None:
    assert len(GOLDEN_YAML) > 100


@pytest.mark.parametrize("path", GOLDEN_YAML, ids=lambda p: p.relative_to(GOLDEN).as_posix())
def test_same_bytes_as_the_reference_on_golden_files(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_bytes()))
    expected = dump_yaml_reference(documents)
    assert dump_yaml(documents) == expected
    # The golden file itself (after its `#` header) is what the reference writes for its own data.
    body = b"".join(line for line in path.read_bytes().splitlines(keepends=True) if not line.startswith(b"# "))
    if not any(line.lstrip().startswith(b"#") for line in body.splitlines()):
        assert expected.encode() == body


def test_same_bytes_as_the_reference_on_generated_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    generate(12, tmp_path / "specs")
    fast = run([tmp_path / "specs"], root=tmp_path, render=True, jobs=1)
    assert fast.ok, [d.to_text() for d in fast.diagnostics]
    monkeypatch.setattr(serialize, "dump_yaml", dump_yaml_reference)
    monkeypatch.setattr(memo, "_STORE", {})  # project files are memoized by content: serialize them again
    reference = run([tmp_path / "specs"], root=tmp_path, render=True, jobs=1)
    files, expected = fast.files(), reference.files()
    assert sorted(files) == sorted(expected)
    assert sum(p.endswith(".yaml") for p in files) > 200
    assert [p for p in files if files[p] != expected[p]] == []


# Scalars a YAML reader could take for something else, or that need quoting or escaping.
_TRICKY = ["yes", "no", "on", "off", "y", "N", "true", "False", "null", "~", "", " ", "0o17", "017", "0x1f",
           "1e3", "1_000", "12:30", "2026-11-25", ".5", "-1", "+1", ".inf", "-.nan", "a: b", "a #b", "#c",
           "- x", "-x", "? q", "?q", ":x", "x:", "@at", "`tick", "'single'", '"double"', "{a}", "[b]", "*ref",
           "&anchor", "!tag", "%dir", "|pipe", ">fold", "---", "...", " lead", "trail ", "tab\there",
           "é", "日本語", "emoji 🙂", "\u2028", "\x85", "\ufeff", "\x07bell", "a\r\nb", "line\n", "two\nlines",
           "\nlead", "trail\n\n", "sp \nx", "x\n y", "  indented\nblock\n", "a" * 130, "k" * 99, "k" * 100,
           "1e10", "0435d48f", "12e5", "1_0", "0b101", "0x1F", "1:20", "190:20:30", "2026-1-5", "a:", "a::b",
           "x:y", "http://h:80/p", "@x", "a@b", "=", "+1.5", "/etc/x", "_", "0.", "-", "Yes", "NO", "~a",
           "a #b", "a# b", "a:", "a: b", "?", "? a", "?a", ":", ":a", "-", "-a", "- a", "---x", "...x", "--x",
           "it's", "'q", "a'", " a", "a ", "a  b", "{a: 1}", "a,b", "a[0]", "x{y=\"z\"}", "%x", "a%", "!a", "a!",
           'sum(rate(x{a="b"}[5m])) > 0.5', "time() - max(y)", "a | b", "|", ">", "a > b", "=x", "~", "null"]
scalars = st.one_of(
    st.sampled_from(_TRICKY), st.text(max_size=12),
    st.text(alphabet=st.sampled_from("ab:- #'\"\n\t.0159yYnN~é"), max_size=10),
    st.text(alphabet=st.sampled_from("aeEx0179:/.@=+-_#"), min_size=1, max_size=12),
    st.text(alphabet=st.sampled_from("ab1 :#-?,[]{}&*!|>'\"%@`.~=yn"), min_size=1, max_size=8),
    st.from_regex(r"[0-9a-f]{1,10}(e[0-9]+)?|[a-z]+://[a-z.]+(:[0-9]+)?(/[a-z0-9._-]*)*|sha256:[0-9a-f]{8}",
                  fullmatch=True),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
)
keys = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=8))
plain_data = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=20,
)


@given(st.lists(plain_data, min_size=0, max_size=3))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([{"a": [[1, [2, 3]], {"x": "l1\nl2\n", "y": []}], "b": {}}, [{"k": "v"}], {"z": "a\n\n  b"}])
@example([{"a": "x\n\n"}, {"b": 1}])
@example(["scalar at the top"])
@example([{"k" * 130: 1, 1: "int key", None: [{}]}])
@example([[["nested", ["deeper", "a\nb"]], {"m": {"n": "c\nd"}}]])
@example([[["\u2028"]], {"k": {"\x85": ["a\rb", "x\ny\u2029z"]}}])
def test_same_bytes_as_the_reference_on_plain_data(documents: list[Any]) -> None:
    assert dump_yaml(documents) == dump_yaml_reference(documents)


def test_errors_are_the_reference_errors() -> None:
    for bad, error in (([{"x": float("nan")}], ValueError), ([{"x": object()}], TypeError),
                       ([{"x": [1, {2}]}], TypeError)):
        with pytest.raises(error):
            dump_yaml_reference(bad)
        with pytest.raises(error):
            dump_yaml(bad)


json_data = st.recursive(
    st.one_of(scalars, st.floats(), st.tuples(st.integers())),
    lambda children: st.one_of(st.lists(children, max_size=4), st.tuples(children, children),
                               st.dictionaries(st.one_of(keys, st.integers()), children, max_size=4)),
    max_leaves=20,
)


@given(json_data)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example({"b": [1, 2.5, None, True, {}], "a": {"z": [], "é\n\"": "\u2028\x00"}})
@example({1: "int key", "1": "str key"})
def test_pretty_json_is_json_dumps(data: Any) -> None:
    try:
        expected = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    except TypeError:  # keys of mixed types cannot be sorted
        with pytest.raises(TypeError):
            pretty_json(data)
        return
    assert pretty_json(data) == expected


@pytest.mark.parametrize("text", _TRICKY)
def test_each_tricky_string_as_the_reference_writes_it(text: str) -> None:
    for documents in ([{"k": text, text: [text, {"n": text}]}], [[text]]):
        canonical_yaml._VALUES.clear()  # decided afresh, not remembered from another test
        assert dump_yaml(documents) == dump_yaml_reference(documents)


# Multi-line strings around the edges of libyaml's literal-block rules: characters it does not count as
# printable (tab, `\r`, U+0085, U+FEFF, an emoji), line breaks other than `\n`, spaces before a break or
# at the end, leading breaks and spaces, and several final breaks.
_BLOCK_EDGES = "ab #:-\n\n \t\r\x85\x9f\xa0\u2027\u2028\u2029\ud7ff\ue000\ufefe\ufeff\uff00\ufffd🙂"
multi_line = st.text(alphabet=st.sampled_from(_BLOCK_EDGES), min_size=1, max_size=16).filter(lambda t: "\n" in t)


@given(st.lists(multi_line, min_size=1, max_size=3), st.integers(min_value=0, max_value=2))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(["\n"], 0)
@example(["\n\n", "a\n\n\nb", " a\nb\n"], 1)
@example(["a \nb", "a\nb ", "a\n\tb", "\ufeff\nb", "\u2028\nb", "🙂\nb"], 2)
def test_literal_blocks_as_the_reference_writes_them(texts: list[str], depth: int) -> None:
    canonical_yaml._LITERALS.clear()  # decided afresh, not remembered from another example
    value: Any = {"k": texts[0], "s": list(texts)}
    for _ in range(depth):
        value = {"n": [value, {"m": texts[-1]}]}
    documents = [value, list(texts)]
    assert dump_yaml(documents) == dump_yaml_reference(documents)


def test_a_literal_block_is_laid_out_without_the_reference_emitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # Scripts and pipelines embedded in ConfigMaps are one model's own (not remembered): asking libyaml
    # how to write each one cost a full emitter pass over 40 KB per model.
    script = "#!/usr/bin/env python\nimport sys\n\n\ndef main() -> None:\n    print('hi: there')\n" * 20
    expected = dump_yaml_reference([{"data": {"run.py": script, "note": "a\nb"}}])
    calls: list[Any] = []
    monkeypatch.setattr(canonical_yaml, "dump_yaml_reference", lambda docs: calls.append(docs) or "")
    canonical_yaml._LITERALS.clear()
    assert dump_yaml([{"data": {"run.py": script, "note": "a\nb"}}]) == expected
    assert calls == []


@given(st.one_of(st.text(max_size=6), st.sampled_from(_TRICKY),
                 st.from_regex(r"[a-zA-Z~.+-][a-z0-9:.-]{0,8}", fullmatch=True)))
@settings(max_examples=800, deadline=None)
@example("")
@example("model-1")
@example("no")
@example("Off")
def test_reads_as_string_is_the_resolver(text: str) -> None:
    # The shortcut on the first character gives the resolver's own answer.
    resolved = yaml_reference._BaseResolve(yaml_reference._DUMPER, ScalarNode, text, (True, False))
    assert yaml_reference.reads_as_string(text) == (resolved == "tag:yaml.org,2002:str")


def test_a_float_is_remembered_by_its_text_not_by_equality() -> None:
    # -0.0 == 0.0 (and hashes alike): remembered by value, whichever came first decided both, so the bytes
    # of a file depended on what the process had written before.
    canonical_yaml._VALUES.clear()
    documents = [{"zero": 0.0, "negative": -0.0}, [-0.0, 0.0]]
    assert dump_yaml(documents) == dump_yaml_reference(documents) == "zero: 0.0\nnegative: -0.0\n---\n- -0.0\n- 0.0\n"


@given(st.lists(st.dictionaries(keys, plain_data, min_size=1, max_size=3), min_size=1, max_size=3),
       st.lists(st.tuples(st.sampled_from(["whole", "value", "fresh"]), keys), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([{"groups": [{"name": "g", "rules": [{"expr": "a\n\n  b\n"}]}]}], [("whole", "x"), ("value", "spec")])
def test_documents_written_again_within_reusing_are_the_same_bytes(shared: list[dict[Any, Any]],
                                                                     files: list[tuple[str, Any]]) -> None:
    """canonical_yaml.reusing: a document written whole, then written again whole or as a top-level value
    of a later document (as the prometheus target's rules are), gives the bytes written without it."""
    batch = [[document] for document in shared]
    for how, key in files:
        for document in shared:
            if how == "whole":
                batch.append([document, {"after": document}])
            elif how == "value":
                batch.append([{"apiVersion": "v1", key: document, "last": [document]}])
            else:
                batch.append([{key: dict(document)}])  # equal, not the same object: written anew
    expected = [dump_yaml(documents) for documents in batch]
    with canonical_yaml.reusing():
        assert [dump_yaml(documents) for documents in batch] == expected
    assert expected == [dump_yaml_reference(documents) for documents in batch]


def test_a_document_is_reused_by_identity_only_within_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]}
    laid_out: list[Any] = []
    real = canonical_yaml._mapping

    def spy(data: Any, *args: Any) -> None:
        laid_out.append(data)
        real(data, *args)

    monkeypatch.setattr(canonical_yaml, "_mapping", spy)
    with canonical_yaml.reusing():
        first = dump_yaml([rules])
        laid_out.clear()
        assert dump_yaml([{"spec": rules}]) == "spec:\n" + "".join("  " + line for line in first.splitlines(True))
        assert not any(data is rules for data in laid_out)  # written from its text
    laid_out.clear()
    dump_yaml([{"spec": rules}])
    assert any(data is rules for data in laid_out)  # outside the block: laid out again
