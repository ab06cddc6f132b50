"""The canonical YAML style by definition: libyaml's emitter (PyYAML's C dumper) over plain nodes.

Key order as the target built it, block style, indentless sequences under a key, literal blocks for
multi-line strings, no folding of long lines, and every string quoted that a YAML 1.1 *or* 1.2 reader
would take for something else (`no`, `y`, `0o17`, `1e3`, `2026-11-25`, ...). compiler.render.canonical_yaml
writes the same bytes faster and asks this module what it does not decide itself.
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


def reads_as_string(text: str) -> bool:
    """Whether `text`, written plain, reads back as a string (to YAML 1.1 and 1.2 readers alike)."""
    if text and text[0] not in _RESOLVER_FIRSTS and not _ANY_FIRST:
        return True  # no implicit resolver applies (names, digests, URLs): the resolver's answer is str
    return bool(_resolve(_DUMPER, ScalarNode, text, (True, False)) == _T + "str")


_DUMPER = CanonicalDumper.__new__(CanonicalDumper)  # only its resolver tables are used
# The resolver tries only the resolvers registered for a scalar's first character, and those for any
# first character (under None; PyYAML registers none).
_RESOLVER_FIRSTS = frozenset(first for first in CanonicalDumper.yaml_implicit_resolvers if first is not None)
_ANY_FIRST = bool(CanonicalDumper.yaml_implicit_resolvers.get(None))
