"""Escaping for spec values placed in Markdown prose, Markdown code spans and table cells, and Mermaid.

Spec values are untrusted text. In the card they must never open structure of their own: no HTML (an
unclosed `<!--` would hide the rest of the card), no headings or lists that pose as sections of the
card, no links, no fence that closes the Mermaid block. Each helper returns text that is inert in the
context it is made for, and only there.
"""

from __future__ import annotations

import re

# CommonMark backslash-escapes any ASCII punctuation. These are the characters that can start inline
# structure anywhere in a line (emphasis, code, links, HTML, entities, tables, strikethrough, escapes).
_INLINE = set("\\`*_[]<>#|~&!")
_ESCAPED = str.maketrans({c: "\\" + c for c in _INLINE})
# Characters that only open block structure at the start of a line (lists, setext underlines, breaks).
_LINE_START = set("-+=")
_ORDERED = re.compile(r"^(\d{1,9})([.)])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def md_text(text: str) -> str:
    """Prose that reads as written but renders as plain paragraphs: every structural character escaped.

    Line breaks inside a paragraph are kept; blank lines keep separating paragraphs. Leading spaces go
    (four of them would make a code block).
    """
    lines = []
    for raw in _clean(text).split("\n"):
        line = raw.strip()
        out = line.translate(_ESCAPED)
        if out[:1] in _LINE_START:
            out = "\\" + out
        out = _ORDERED.sub(r"\1\\\2", out)
        lines.append(out)
    # Collapse runs of blank lines so a value cannot stretch the card with empty space.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def md_inline(text: str) -> str:
    """Like md_text, on one line: for values inside a sentence, a list item or a table cell (`|` is escaped)."""
    return md_text(" ".join(_clean(text).split()))


# Printable ASCII words separated by single spaces: text that cleaning and flattening leave as it is.
_FLAT_ASCII = re.compile(r"[!-~]+(?: [!-~]+)*")


def md_code(text: str) -> str:
    """A code span: its content is literal. The fence is longer than any backtick run inside it.

    `|` is escaped too, because GitHub splits table cells at a pipe even inside a code span.
    """
    if "`" not in text and "|" not in text and _FLAT_ASCII.fullmatch(text):
        return f"`{text}`"  # names and values, most of the card's spans: what _md_code writes for them
    return _md_code(text)


def _md_code(text: str) -> str:
    flat = " ".join(_clean(text).split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}".replace("|", "\\|")


# Mermaid: node ids are plain identifiers; labels are quoted strings in which `"` cannot appear and
# `#...;` is an entity, so everything outside a small safe set is written as a numeric entity.
_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 _.,:/%=+()@'-]")
_RESERVED_IDS = {"end", "graph", "flowchart", "subgraph", "class", "classdef", "click", "style", "linkstyle",
                 "direction", "default"}


_SAFE_LABEL = re.compile(r"[A-Za-z0-9_.,:/%=+()@'-]+(?: [A-Za-z0-9_.,:/%=+()@'-]+)*")


def mermaid_label(text: str) -> str:
    """A double-quoted Mermaid label with every unsafe character as a `#<code>;` entity."""
    if _SAFE_LABEL.fullmatch(text) and "%%" not in text and "--" not in text and not _ORDERED.match(text):
        return f'"{text}"'  # nothing to encode: what _mermaid_label writes for it
    return _mermaid_label(text)


def _mermaid_label(text: str) -> str:
    flat = " ".join(_clean(text).split())
    # `1. text` in a label reads as an unsupported Markdown list in newer Mermaid: encode the dot.
    ordered = _ORDERED.match(flat)
    list_marker = ordered.end() - 1 if ordered else -1
    # `%%` starts a Mermaid comment and `--` can read as an edge in some parsers: break both runs.
    body = []
    previous = ""
    for index, char in enumerate(flat):
        if _MERMAID_SAFE.fullmatch(char) and not (char in "%-" and previous == char) and index != list_marker:
            body.append(char)
        else:
            body.append(f"#{ord(char)};")
        previous = char
    return '"' + "".join(body) + '"'


class MermaidIds:
    """Allocates node ids: `[A-Za-z0-9_]`, prefixed by kind, unique, stable for the same input."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def __call__(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key in self._by_key:
            return self._by_key[key]
        base = re.sub(r"[^A-Za-z0-9_]", "_", f"{kind}_{name}").strip("_") or kind
        candidate = base
        counter = 2
        while candidate in self._used or candidate.lower() in _RESERVED_IDS:
            candidate = f"{base}_{counter}"
            counter += 1
        self._used.add(candidate)
        self._by_key[key] = candidate
        return candidate
