"""Safe, fast YAML loading of untrusted specs, with a source map of every key and value.

Why not just `YAML().load`: ruamel's round-trip loader costs ~10 ms a document (GUIDE §3), which
alone would blow the 1,000-spec lint budget. PyYAML's libyaml *composer* gives nodes with positions
in ~0.3 ms; we build plain Python data from those nodes ourselves, which lets us

- resolve scalars with YAML 1.2 core-schema rules (a feature named `no` stays a string),
- reject duplicate keys and object-constructing tags instead of silently accepting them,
- count alias expansions and depth, so a billion-laughs file fails fast,
- keep the nodes as the source map, which finds a key's or value's position when a diagnostic needs it.

libyaml is older than the YAML 1.2 spec and rejects a few valid documents, so on a libyaml parse
error we re-compose with ruamel.yaml's pure-Python parser before reporting anything. This module reads,
decodes and composes (with the size limit and syntax diagnostics); compiler.language.yaml_data builds
the data and source map from either parser's nodes.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import Node

from compiler.diagnostics import Diagnostic, Path
from compiler.language.yaml_data import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_NODES,
    PLAIN_TAG,
    Builder,
    Document,
    Resolver,
    SourceMap,
    SpecSyntaxError,
    diag_at,
)
from compiler.language.yaml_watch import Watch

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Document", "SourceMap", "Watch", "iter_paths",
           "load_document", "read_source"]

MAX_BYTES = 1 << 20


def _too_large(size: int, file: str) -> Diagnostic:
    return diag_at("MLS001", f"file is {size} bytes; the limit is {MAX_BYTES}", file, 1, 1,
                 hint="a spec describes one model in a few hundred lines; split or trim the file")


def read_source(path: os.PathLike[str] | str, file: str) -> tuple[bytes | None, Diagnostic | None]:
    """The bytes of a spec file, read without ever holding more than the size limit in memory.

    The size is checked before reading (a 500 MB file used to be read whole, then refused), and the
    read itself is bounded, since a file can grow between the two or be a pipe with no size at all.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_BYTES:
                return None, _too_large(size, file)
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None, diag_at("MLS001", "no such file", file, 1, 1)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "")
        reason = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
        return None, diag_at("MLS014", f"cannot read the file: {reason}", file, 1, 1,
                           hint="check that the file exists and that this user may read it")
    if len(raw) > MAX_BYTES:
        return None, _too_large(len(raw), file)
    return raw, None


def _decode(raw: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    if len(raw) > MAX_BYTES:
        return None, [_too_large(len(raw), file)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [diag_at("MLS002", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file, line, col,
                            hint="save the file as UTF-8")]
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return None, [diag_at("MLS002", "file contains NUL bytes", file, line, col, hint="save the file as UTF-8 text")]
    return text, []


def _tab_problems(text: str, file: str) -> list[Diagnostic]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip() and not line.lstrip().startswith("#"):
            problems.append(diag_at("MLS004", "tab character in indentation", file, number, indent.index("\t") + 1,
                                  hint="YAML indents with spaces only"))
    return problems


def _compose_libyaml(text: str) -> list[Node]:
    return list(yaml.compose_all(text, Loader=Resolver))


def _compose_ruamel(text: str) -> list[Node]:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    class Resolver(VersionedResolver):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is RuamelScalar and implicit[0]:
                return Tag(suffix=PLAIN_TAG)
            return super().resolve(kind, value, implicit)

    parser = YAML(typ="rt", pure=True)
    parser.Resolver = Resolver
    return list(parser.compose_all(text))


def _syntax_diag(exc: Exception, file: str, text: str) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    col = mark.column + 1 if mark is not None else 0
    position = getattr(exc, "position", None)
    if mark is None and isinstance(position, int):  # reader errors carry a character offset instead
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = getattr(exc, "reason", None)
    if reason and not getattr(exc, "problem", None):
        return diag_at("MLS003", f"YAML syntax error: {reason}", file, line, col)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return diag_at("MLS003", message, file, line, col)


def _too_deep(events: Iterator[Any], file: str) -> Diagnostic | None:
    """MLS008 at the first collection nested deeper than MAX_DEPTH, scanning parser events.

    Both composers recurse once per nesting level: a 2 KB `[[[...]]]` exhausts Python's stack (after
    seconds in the pure-Python one). The parsers themselves are not recursive, so counting their
    events finds the culprit in linear time, with its position, before any composer runs.
    """
    depth = 0
    for event in events:
        kind = type(event).__name__
        if kind in ("SequenceStartEvent", "MappingStartEvent"):
            if depth > MAX_DEPTH:
                mark = event.start_mark
                return diag_at("MLS008", f"document nests deeper than {MAX_DEPTH} levels", file,
                             mark.line + 1, mark.column + 1, hint="flatten the structure")
            depth += 1
        elif kind in ("SequenceEndEvent", "MappingEndEvent"):
            depth -= 1
    return None


def _beyond_libyaml_limit(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic | None:
    """MLS008 for a document libyaml refused for nesting deeper than its own limit (1,000 levels).

    Handing it to the pure-Python parser would cost seconds; libyaml's events for the text before
    the point it gave up reach our limit in microseconds and give the exact position.
    """
    mark = getattr(exc, "problem_mark", None)
    if mark is None or "nesting depth" not in str(getattr(exc, "problem", "")):
        return None
    try:
        deep = _too_deep(yaml.parse(text[: mark.index], Loader=Resolver), file)
    except (yaml.YAMLError, RecursionError):
        deep = None
    return deep or diag_at("MLS008", f"document nests deeper than {MAX_DEPTH} levels", file, mark.line + 1,
                         mark.column + 1, hint="flatten the structure")


def _parse_ruamel(text: str) -> Iterator[Any]:
    from ruamel.yaml import YAML

    return YAML(typ="rt", pure=True).parse(text)  # type: ignore[no-any-return]


def _compose(text: str, file: str) -> tuple[list[Node] | None, Diagnostic | None]:
    # The common case costs nothing extra: libyaml composes, and a document nested deeper than the
    # limit but within the stack is refused by the builder, with its position. Only the failures
    # (stack exhausted, or a document libyaml rejects) scan events first.
    try:
        return _compose_libyaml(text), None
    except yaml.YAMLError as exc:
        deep = _beyond_libyaml_limit(exc, text, file)
        if deep is not None:
            return None, deep
    except RecursionError:
        pass
    try:
        deep = _too_deep(_parse_ruamel(text), file)
        if deep is not None:
            return None, deep
        return _compose_ruamel(text), None
    except RecursionError:
        return None, diag_at("MLS008", "document nests too deeply", file, 1, 1, hint="flatten the structure")
    except Exception as exc:  # ruamel raises many unrelated classes for bad input
        return None, _syntax_diag(exc, file, text)


def load_document(raw: bytes, file: str, watch: Watch | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Load one YAML document. Returns (document, diagnostics); document is None on fatal problems.

    With a `watch`, the document's `watched` holds the strings it reports (compiler.language.yaml_watch.Watch)."""
    text, problems = _decode(raw, file)
    if text is None:
        return None, problems
    if "\t" in text:
        problems = _tab_problems(text, file)
        if problems:
            return None, problems
    nodes, error = _compose(text, file)
    if error is not None or nodes is None:
        return None, [error] if error else []
    if not nodes:
        return None, [diag_at("MLS010", "the file is empty", file, 1, 1, hint="start from `mlspec init NAME`")]
    if len(nodes) > 1:
        second = nodes[1].start_mark
        return None, [diag_at("MLS009", "more than one YAML document in the file", file, second.line + 1,
                            second.column + 1, hint="put one model in each file")]
    source = SourceMap(file, nodes[0])
    builder = Builder(file, watch)
    try:
        data = builder.build(nodes[0])
    except SpecSyntaxError as exc:
        return None, [*builder.problems, exc.diag]
    except RecursionError:
        return None, [diag_at("MLS008", "document nests too deeply", file, 1, 1, hint="flatten the structure")]
    if not isinstance(data, dict):
        line, col = source.locate(())
        return None, [diag_at("MLS010", "the top level must be a mapping", file, line, col,
                            hint="a spec starts with `apiVersion: mlspec/v1`")]
    sha = hashlib.sha256(raw).hexdigest()
    return Document(file, data, source, sha, builder.watched if watch is not None else None), builder.problems


def iter_paths(data: Any, path: Path = ()) -> Iterator[Path]:
    """Every path in a loaded document (used by tests and by the source-map consumers)."""
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from iter_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_paths(value, (*path, index))
