"""The canonical YAML style, and a fast emitter for it.

The canonical style is what PyYAML's C emitter (libyaml) writes with `CanonicalDumper`: key order as the
target built it, block style, indentless sequences under a key, literal blocks for multi-line strings,
no folding of long lines, and every string quoted that a YAML 1.1 *or* 1.2 reader would take for
something else (`no`, `y`, `0o17`, `1e3`, `2026-11-25`, ...). `dump_yaml_reference` is that emitter.

`dump_yaml` writes the same bytes without it: rendering 1,000 specs spent most of its time building
PyYAML nodes and running the emitter over them, for data that is only dicts, lists and scalars. It
lays out the structure itself and asks the reference emitter only how each distinct scalar is written
(plain, quoted, or a literal block's header), remembering the answer; whatever it does not know how to
lay out (a key that is not a short one-line string, a literal block that keeps trailing newlines, a
scalar at the top) goes to the reference emitter whole. tests/test_serialize.py holds the two to the
same bytes over the golden files, generated specs and random plain data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class CanonicalDumper(_BaseDumper):  # type: ignore[misc]
    pass


# Strings that YAML 1.2 or YAML 1.1 readers (kubectl, Go yaml.v2, PyYAML) would resolve to a non-string.
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:y|Y|n|N)$", "yYnN"),
    ("tag:yaml.org,2002:int", r"^0o[0-7]+$", "0"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
     "-+.0123456789"),
):
    CanonicalDumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


_T = "tag:yaml.org,2002:"


def _float_text(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinities are not written to manifests")
    return f"{value:.1f}" if value.is_integer() and abs(value) < 1e15 else repr(value)


def _node(value: Any) -> Any:
    """The YAML node for plain data, built directly (PyYAML's generic representer is much slower)."""
    if isinstance(value, str):
        return ScalarNode(_T + "str", str(value), style="|" if "\n" in value else None)
    if isinstance(value, bool):
        return ScalarNode(_T + "bool", "true" if value else "false")
    if isinstance(value, int):
        return ScalarNode(_T + "int", str(value))
    if isinstance(value, float):
        return ScalarNode(_T + "float", _float_text(value))
    if value is None:
        return ScalarNode(_T + "null", "null")
    if isinstance(value, Mapping):
        return MappingNode(_T + "map", [(_node(k), _node(v)) for k, v in value.items()], flow_style=False)
    if isinstance(value, list | tuple):
        return SequenceNode(_T + "seq", [_node(v) for v in value], flow_style=False)
    raise TypeError(f"cannot write a {type(value).__name__} to YAML")


def _represent(self: Any, data: Any) -> None:
    self.serialize(_node(data))
    self.represented_objects = {}
    self.object_keeper = []
    self.alias_key = None


_RESOLVED: dict[tuple[str, bool], str] = {}


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
    # The emitter asks for every scalar whether it would read back as written; keys and values repeat
    # across documents, so remember the answers.
    if kind is ScalarNode:
        key = (value, implicit[0])
        found = _RESOLVED.get(key)
        if found is None:
            found = _RESOLVED[key] = _BaseResolve(self, kind, value, implicit)
            if len(_RESOLVED) > 200_000:
                _RESOLVED.clear()
        return found
    return _BaseResolve(self, kind, value, implicit)


_BaseResolve = CanonicalDumper.resolve
CanonicalDumper.represent = _represent
CanonicalDumper.resolve = _resolve


def dump_yaml_reference(documents: Iterable[Any]) -> str:
    """The canonical style by definition: libyaml's emitter over `CanonicalDumper`'s nodes."""
    return str(yaml.dump_all(
        list(documents), Dumper=CanonicalDumper, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=1_000_000, indent=2, explicit_start=False,
    ))


# --- the fast emitter ----------------------------------------------------------------------------


class _Unsupported(Exception):
    """A shape the fast emitter does not lay out itself: the document goes to the reference emitter."""


# How a scalar is written, by value: the reference emitter's answer, remembered. Keys and values are
# asked apart: a key is written in the emitter's simple-key context, where fewer styles are allowed.
_VALUES: dict[Any, str] = {}
_KEYS: dict[str, str] = {}
_LITERALS: dict[str, tuple[str, list[str] | None]] = {}
_CACHE_LIMIT = 100_000
# Longer scalars are rarely written twice; remembering them only holds memory in every worker.
_REMEMBERED_LENGTH = 512
# Written plain when the resolver reads them back as strings: no space, quote or indicator (a `:` only
# inside, followed by more text, as in `sha256:...` and URLs; digits first only when the resolver says
# it is not a number, a date or a time).
_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@=+-]*(?::[A-Za-z0-9_./@=+-]+)*")
# libyaml splits a plain or quoted line only past this column (the `width` above); far below it,
# where a scalar starts cannot change how it is written.
_LONGEST = 100_000


def _reads_as_string(text: str) -> bool:
    return bool(_resolve(_DUMPER, ScalarNode, text, (True, False)) == _T + "str")


_DUMPER = CanonicalDumper.__new__(CanonicalDumper)  # only its resolver tables are used


def _value_text(value: Any) -> str:
    """A one-line scalar as written after `key: ` or `- `."""
    found = _VALUES.get(value) if type(value) is str else None
    if found is not None:
        return found
    if type(value) is str:
        if len(value) > _LONGEST:
            raise _Unsupported
        if _PLAIN.fullmatch(value):
            text = value if _reads_as_string(value) else _single_quoted(value)
        elif _ASCII_LINE.fullmatch(value):
            text = value if _plain_allowed(value) and _reads_as_string(value) else _single_quoted(value)
        else:
            text = _probe_value(value)
        if len(value) <= _REMEMBERED_LENGTH:
            if len(_VALUES) > _CACHE_LIMIT:
                _VALUES.clear()
            _VALUES[value] = text
        return text
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)  # every decimal integer resolves back to an int, so it is written plain
    if value is None:
        return "null"
    if kind is float:
        key = ("float", value)
        found = _VALUES.get(key)
        if found is None:
            found = _VALUES[key] = _probe_value(value)
        return found
    if isinstance(value, str | int | float):  # subclasses (enums): as the node builder sees them
        return _probe_value(value)
    raise TypeError(f"cannot write a {type(value).__name__} to YAML")


# What YAML counts as a line break besides `\n`: a scalar written with one continues on an indented line.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


# One line of printable ASCII: libyaml writes it plain or single-quoted, never double-quoted (that needs
# a character it must escape), so the choice is the few rules of its scalar analysis below. PromQL
# expressions, unique per model, are most of these: asking the emitter cost 80k calls per 1,000 specs.
_ASCII_LINE = re.compile(r"[\x20-\x7e]+")
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _plain_allowed(text: str) -> bool:
    """libyaml's yaml_emitter_analyze_scalar, for one non-empty line of printable ASCII in block context."""
    first = text[0]
    return not (
        first in _FIRST_INDICATORS
        or (first in "?:-" and (len(text) == 1 or text[1] == " "))  # an indicator followed by a blank
        or text.startswith(("---", "..."))
        or first == " " or text[-1] == " "
        or ": " in text or (len(text) > 1 and text[-1] == ":")  # a `:` followed by a blank or the end
        or " #" in text  # a comment
    )


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _probe_value(value: Any) -> str:
    text = dump_yaml_reference([{"k": value}])
    if not text.startswith("k: ") or text.count("\n") != 1 or _OTHER_BREAKS.search(text):
        raise _Unsupported  # written over several lines: depends on where it starts
    return text[3:-1]


def _key_text(key: Any) -> str:
    if type(key) is not str:
        raise _Unsupported
    found = _KEYS.get(key)
    if found is not None:
        return found
    if len(key) >= 100 or "\n" in key:
        raise _Unsupported  # not a simple key: written as `? key`
    if _PLAIN.fullmatch(key) and _reads_as_string(key):
        text = key
    else:
        probe = dump_yaml_reference([{key: 0}])
        if (not probe.endswith(": 0\n") or probe.startswith("?") or probe.count("\n") != 1
                or _OTHER_BREAKS.search(probe)):
            raise _Unsupported
        text = probe[:-4]
    if len(_KEYS) > _CACHE_LIMIT:
        _KEYS.clear()
    _KEYS[key] = text
    return text


def _literal(value: str) -> tuple[str, list[str] | None]:
    """A multi-line string as written after `key: ` or `- `: a literal block's header (`|`, `|-`, `|2`,
    ...) and its lines without indentation, or (one line of text, None) when it is written quoted."""
    found = _LITERALS.get(value)
    if found is not None:
        return found
    if len(value) > _LONGEST * 10:
        raise _Unsupported
    probe = dump_yaml_reference([{"k": value}])
    if not probe.startswith("k: "):
        raise _Unsupported
    head, _, body = probe[3:].partition("\n")
    if _OTHER_BREAKS.search(probe):
        raise _Unsupported  # lines broken where the fast emitter would not indent them
    if not body:
        found = (head, None)
    elif head.startswith("|") and "+" not in head:
        raw = body.split("\n")[:-1]
        if any(line and not line.startswith("  ") for line in raw):
            raise _Unsupported
        found = (head, [line[2:] for line in raw])
    else:
        # Quoted over several lines (where it starts matters), or a block that keeps its trailing
        # newlines, after which the emitter may end the document with `...`.
        raise _Unsupported
    if len(value) <= _REMEMBERED_LENGTH:  # long blocks (pipelines, scripts) are one model's own: not kept
        if len(_LITERALS) > 1000:
            _LITERALS.clear()
        _LITERALS[value] = found
    return found


def _write_literal(value: str, lead: str, indent: str, out: list[str]) -> None:
    head, lines = _literal(value)
    out.append(lead + head + "\n")
    if lines is not None:
        for line in lines:
            out.append(indent + line + "\n" if line else "\n")


def _shape(value: Any) -> int:
    """0: a scalar, 1: a mapping, 2: a sequence (as the node builder tells them apart)."""
    if isinstance(value, str):
        return 0
    if isinstance(value, Mapping):
        return 1
    if isinstance(value, list | tuple):
        return 2
    return 0


def _mapping(data: Mapping[Any, Any], indent: str, lead: str, out: list[str]) -> None:
    """A non-empty block mapping whose keys start at `indent`; the first line starts with `lead`."""
    deeper = indent + "  "
    for key, value in data.items():
        head = lead + _key_text(key) + ":"
        lead = indent
        kind = type(value)
        if kind is str:
            if "\n" in value:
                _write_literal(value, head + " ", deeper, out)
            else:
                out.append(head + " " + _value_text(value) + "\n")
            continue
        shape = 1 if kind is dict else 2 if kind is list else 0 if kind in _SCALARS else _shape(value)
        if shape == 1:
            if value:
                out.append(head + "\n")
                _mapping(value, deeper, deeper, out)
            else:
                out.append(head + " {}\n")
        elif shape == 2:
            if value:
                out.append(head + "\n")
                _sequence(value, indent, indent, out)  # indentless: `- ` under the key's first column
            else:
                out.append(head + " []\n")
        elif isinstance(value, str) and "\n" in value:
            _write_literal(value, head + " ", deeper, out)
        else:
            out.append(head + " " + _value_text(value) + "\n")


def _sequence(data: Any, indent: str, lead: str, out: list[str]) -> None:
    """A non-empty block sequence whose dashes are at `indent`; the first line starts with `lead`."""
    deeper = indent + "  "
    for value in data:
        head = lead + "- "
        lead = indent
        kind = type(value)
        if kind is str:
            if "\n" in value:
                _write_literal(value, head, deeper, out)
            else:
                out.append(head + _value_text(value) + "\n")
            continue
        shape = 1 if kind is dict else 2 if kind is list else 0 if kind in _SCALARS else _shape(value)
        if shape == 1:
            if value:
                _mapping(value, deeper, head, out)
            else:
                out.append(head + "{}\n")
        elif shape == 2:
            if value:
                _sequence(value, deeper, head, out)
            else:
                out.append(head + "[]\n")
        elif isinstance(value, str) and "\n" in value:
            _write_literal(value, head, deeper, out)
        else:
            out.append(head + _value_text(value) + "\n")


_SCALARS = frozenset({int, float, bool, type(None)})


def _document(data: Any, out: list[str]) -> None:
    shape = _shape(data)
    if shape == 1 and data:
        _mapping(data, "", "", out)
    elif shape == 2 and data:
        _sequence(data, "", "", out)
    else:
        raise _Unsupported  # a scalar or an empty collection at the top


def dump_yaml(documents: Iterable[Any]) -> str:
    """Serialize documents canonically: same data, same bytes, on any machine (see the module docstring)."""
    documents = list(documents)
    out: list[str] = []
    try:
        for index, data in enumerate(documents):
            if index:
                out.append("---\n")
            _document(data, out)
    except _Unsupported:
        return dump_yaml_reference(documents)
    return "".join(out)
