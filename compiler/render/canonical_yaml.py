"""A fast emitter for the canonical YAML style (compiler.render.yaml_reference defines it).

`dump_yaml` writes the bytes of `dump_yaml_reference` without libyaml: rendering 1,000 specs spent most
of its time building PyYAML nodes and running the emitter over them, for data that is only dicts, lists
and scalars. It lays out the structure itself and asks the reference emitter only how each distinct
one-line scalar is written (plain or quoted), remembering the answer; multi-line strings follow
libyaml's literal-block rules (`_block`) or are asked too. Whatever it does not know how to lay out (a
key that is not a short one-line string, a literal block that keeps trailing newlines, a scalar at the
top) goes to the reference emitter whole. tests/test_serialize.py holds the two to the same bytes over
the golden files, generated specs and random plain data.

Length: one layout algorithm. Mappings, sequences, scalars, literal blocks and the documents written
again from their text (`reusing`) share the remembered answers and the fallback to the reference
emitter; split, each part would need the others' private rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from compiler.render.yaml_reference import CanonicalDumper as CanonicalDumper
from compiler.render.yaml_reference import dump_yaml_reference as dump_yaml_reference
from compiler.render.yaml_reference import reads_as_string as _reads_as_string


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
# libyaml splits a plain or quoted line only past this column (the reference's `width`); far below it,
# where a scalar starts cannot change how it is written.
_LONGEST = 100_000


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
        key = ("float", float.__repr__(value))  # by its text: -0.0 == 0.0, and they are written apart
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


def _key_head(key: Any) -> str:
    """A key as written at the start of its line, with its `:`."""
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
    _KEYS[key] = text + ":"
    return text + ":"


# What libyaml's scalar analysis counts as printable (IS_PRINTABLE: `\n`, ASCII 0x20-0x7E, U+00A0-U+D7FF,
# U+E000-U+FFFD but U+FEFF), less the line breaks other than `\n` (U+2028, U+2029). A multi-line string
# of only these, with no space before a line break or at its end, is allowed as a literal block; anything
# else (a tab, `\r`, an emoji, trailing spaces) is left to the emitter.
_BLOCK_TEXT = re.compile("[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")


def _block(value: str) -> tuple[str, list[str] | None] | None:
    """libyaml's literal block for a multi-line string it allows as one (the rules above), else None.
    The header: `|`, an indentation indicator when the text starts with a space or a break, `-` when
    it does not end with a break; `+` (more than one final break) is not handled here."""
    if value == "\n" or value.endswith(("\n\n", " ")) or " \n" in value or not _BLOCK_TEXT.fullmatch(value):
        return None
    head = "|2" if value[0] in " \n" else "|"
    if value[-1] == "\n":
        lines = value[:-1].split("\n")
    else:
        head += "-"
        lines = value.split("\n")
    return head, lines


def _literal(value: str) -> tuple[str, list[str] | None]:
    """A multi-line string as written after `key: ` or `- `: a literal block's header (`|`, `|-`, `|2`,
    ...) and its lines without indentation, or (one line of text, None) when it is written quoted."""
    found = _LITERALS.get(value)
    if found is not None:
        return found
    if len(value) > _LONGEST * 10:
        raise _Unsupported
    found = _block(value)
    if found is None:
        found = _probe_literal(value)
    if len(value) <= _REMEMBERED_LENGTH:  # long blocks (pipelines, scripts) are one model's own: not kept
        if len(_LITERALS) > 1000:
            _LITERALS.clear()
        _LITERALS[value] = found
    return found


def _probe_literal(value: str) -> tuple[str, list[str] | None]:
    probe = dump_yaml_reference([{"k": value}])
    if not probe.startswith("k: "):
        raise _Unsupported
    head, _, body = probe[3:].partition("\n")
    if _OTHER_BREAKS.search(probe):
        raise _Unsupported  # lines broken where the fast emitter would not indent them
    if not body:
        return head, None
    if head.startswith("|") and "+" not in head:
        raw = body.split("\n")[:-1]
        for line in raw:
            if line and not line.startswith("  "):
                raise _Unsupported
        return head, [line[2:] for line in raw]
    # Quoted over several lines (where it starts matters), or a block that keeps its trailing
    # newlines, after which the emitter may end the document with `...`.
    raise _Unsupported


def _write_literal(value: str, lead: str, indent: str, out: list[str]) -> None:
    head, lines = _literal(value)
    if lines is None:
        out.append(lead + head + "\n")
    elif "" in lines:  # an empty line carries no indentation
        out.append(lead + head + "\n" + "\n".join(indent + line if line else "" for line in lines) + "\n")
    else:  # the whole block as one string
        out.append(lead + head + "\n" + indent + ("\n" + indent).join(lines) + "\n")


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
    append = out.append
    for key, value in data.items():
        head = _KEYS.get(key) if type(key) is str else None
        if head is None:
            head = _key_head(key)
        kind = type(value)
        if kind is str:
            text = _VALUES.get(value)
            if text is not None:
                append(f"{lead}{head} {text}\n")
            elif "\n" in value:
                _write_literal(value, f"{lead}{head} ", deeper, out)
            else:
                append(f"{lead}{head} {_value_text(value)}\n")
        elif kind is dict:
            if value:
                append(f"{lead}{head}\n")
                _mapping(value, deeper, deeper, out)
            else:
                append(f"{lead}{head} {{}}\n")
        elif kind is list:
            if value:
                append(f"{lead}{head}\n")
                _sequence(value, indent, indent, out)  # indentless: `- ` under the key's first column
            else:
                append(f"{lead}{head} []\n")
        elif kind is bool:
            append(f"{lead}{head} true\n" if value else f"{lead}{head} false\n")
        elif kind is int:
            append(f"{lead}{head} {value}\n")  # every decimal integer reads back as an int: plain
        elif value is None:
            append(f"{lead}{head} null\n")
        else:
            _other(value, f"{lead}{head}", indent, deeper, out)
        lead = indent


def _sequence(data: Any, indent: str, lead: str, out: list[str]) -> None:
    """A non-empty block sequence whose dashes are at `indent`; the first line starts with `lead`."""
    deeper = indent + "  "
    append = out.append
    for value in data:
        kind = type(value)
        if kind is str:
            text = _VALUES.get(value)
            if text is not None:
                append(f"{lead}- {text}\n")
            elif "\n" in value:
                _write_literal(value, f"{lead}- ", deeper, out)
            else:
                append(f"{lead}- {_value_text(value)}\n")
        elif kind is dict:
            if value:
                _mapping(value, deeper, f"{lead}- ", out)
            else:
                append(f"{lead}- {{}}\n")
        elif kind is list:
            if value:
                _sequence(value, deeper, f"{lead}- ", out)
            else:
                append(f"{lead}- []\n")
        else:
            _item(value, f"{lead}- ", deeper, out)
        lead = indent


def _other(value: Any, head: str, indent: str, deeper: str, out: list[str]) -> None:
    """A mapping's value of any other type (None, a float, a tuple, a subclass), after `head`."""
    shape = _shape(value)
    if shape == 1:
        if value:
            out.append(head + "\n")
            _mapping(value, deeper, deeper, out)
        else:
            out.append(head + " {}\n")
    elif shape == 2:
        if value:
            out.append(head + "\n")
            _sequence(value, indent, indent, out)
        else:
            out.append(head + " []\n")
    elif isinstance(value, str) and "\n" in value:
        _write_literal(value, head + " ", deeper, out)
    else:
        out.append(head + " " + _value_text(value) + "\n")


def _item(value: Any, head: str, deeper: str, out: list[str]) -> None:
    """A sequence's item of any other type, after `head` (its `- `)."""
    shape = _shape(value)
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


def _document(data: Any, out: list[str]) -> None:
    shape = _shape(data)
    if shape == 1 and data:
        _mapping(data, "", "", out)
    elif shape == 2 and data:
        _sequence(data, "", "", out)
    else:
        raise _Unsupported  # a scalar or an empty collection at the top


# Within `reusing()`: each mapping written as a whole document, by identity (with the mapping, so the
# identity stays its own), and its text.
_WRITTEN: ContextVar[dict[int, tuple[Any, str]] | None] = ContextVar("_WRITTEN", default=None)


@contextmanager
def reusing() -> Iterator[None]:
    """Within the block, a mapping written as a whole document is written again from its text where a
    later document has it as a top-level value: the prometheus target's rules are the whole of
    rules.yaml and the `spec` of prometheusrule.yaml (16 KB of a model's 130 KB of YAML). Only for
    documents that no one changes between the first and the last dump_yaml of the block (a target's
    outputs, built before compiler.pipeline._collect serializes them)."""
    token = _WRITTEN.set({})
    try:
        yield
    finally:
        _WRITTEN.reset(token)


def _document_reusing(data: Any, out: list[str], written: dict[int, tuple[Any, str]]) -> None:
    if type(data) is not dict or not data:
        _document(data, out)
        return
    start = len(out)
    found = written.get(id(data))
    if found is not None and found[0] is data:
        out.append(found[1])
        return
    if any(type(v) is dict and id(v) in written for v in data.values()):
        for key, value in data.items():
            found = written.get(id(value)) if type(value) is dict else None
            if found is not None and found[0] is value:
                out.append(_key_head(key) + "\n")
                out.append(_indented(found[1]))
            else:
                _mapping({key: value}, "", "", out)
    else:
        _mapping(data, "", "", out)
    written[id(data)] = (data, "".join(out[start:]))


def _indented(text: str) -> str:
    """A top-level mapping's text as the value of a top-level key: two spaces before every line but the
    empty ones (in a literal block: they carry no indentation). Every other line of the emitter's is
    laid out relative to the mapping's indentation, so the text is the one written there."""
    if "\n\n" not in text:
        return "  " + text[:-1].replace("\n", "\n  ") + "\n"
    return "".join("  " + line + "\n" if line else "\n" for line in text[:-1].split("\n"))


def dump_yaml(documents: Iterable[Any]) -> str:
    """Serialize documents canonically: same data, same bytes, on any machine (see the module docstring)."""
    documents = list(documents)
    out: list[str] = []
    written = _WRITTEN.get()
    try:
        for index, data in enumerate(documents):
            if index:
                out.append("---\n")
            if written is None:
                _document(data, out)
            else:
                _document_reusing(data, out, written)
    except _Unsupported:
        return dump_yaml_reference(documents)
    return "".join(out)
