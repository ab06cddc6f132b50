"""Safe, fast YAML loading of untrusted specs, with a source map of every key and value.

Why not just `YAML().load`: ruamel's round-trip loader costs ~10 ms a document (GUIDE §3), which
alone would blow the 1,000-spec lint budget. PyYAML's libyaml *composer* gives nodes with positions
in ~0.3 ms; we build plain Python data from those nodes ourselves, which lets us

- resolve scalars with YAML 1.2 core-schema rules (a feature named `no` stays a string),
- reject duplicate keys and object-constructing tags instead of silently accepting them,
- count alias expansions and depth, so a billion-laughs file fails fast,
- record the position of every key and value in the same pass.

libyaml is older than the YAML 1.2 spec and rejects a few valid documents, so on a libyaml parse
error we re-compose with ruamel.yaml's pure-Python parser before reporting anything.

Length: one module on purpose: the libyaml composer path, the pure-parser fallback and the limits
(size, depth, aliases) must walk the same nodes the same way so both paths give identical data and
positions.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from compiler.diagnostics import Diagnostic, Path

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_NODES = 100_000

_PLAIN = "!plain"
_STD = "tag:yaml.org,2002:"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


class _Resolver(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Marks untagged plain scalars instead of resolving them with YAML 1.1 rules."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STD + "str"
        return str(super().resolve(kind, value, implicit))


class SpecSyntaxError(Exception):
    """Internal: a problem that stops building data from the node tree (reported as a diagnostic)."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


@dataclass(slots=True)
class SourceMap:
    """Positions (1-based line, column) of values and keys, indexed by document path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Paths whose value is a mapping or list: a block collection "starts" at its first child, so
    # findings about the whole collection read better at its key (`rollout:`, not `canary:`).
    collections: set[Path] = field(default_factory=set)

    def locate(self, path: Path, *, at_key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        if at_key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.collections and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def place(self, diag: Diagnostic, *, at_key: bool = False) -> Diagnostic:
        line, col = self.locate(diag.path, at_key=at_key)
        return diag.at(self.file, line, col)


@dataclass(slots=True)
class Document:
    file: str
    data: Any
    source: SourceMap
    sha256: str


def _diag(code: str, message: str, file: str, line: int, col: int, path: Path = (),
          hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, path=path, file=file, line=line, col=col, hint=hint)


def _is_scalar(node: Any) -> bool:
    # PyYAML and ruamel.yaml have separate but identically shaped node classes.
    return type(node).__name__ == "ScalarNode"


def _plain_scalar(text: str) -> Any:
    if text[:1].isalpha():  # most values are names: only true/false/null spellings start with a letter
        if text in _BOOL:
            return _BOOL[text]
        return None if text in ("null", "Null", "NULL") else text
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.match(text):
        return int(text)
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


class _Builder:
    """Turns a composed node tree into plain data plus a source map, enforcing the limits."""

    def __init__(self, file: str, source: SourceMap) -> None:
        self.file = file
        self.source = source
        self.seen: set[int] = set()
        self.aliases = 0
        self.nodes = 0
        self.problems: list[Diagnostic] = []

    def _pos(self, node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _fail(self, code: str, message: str, node: Node, path: Path, hint: str | None = None) -> SpecSyntaxError:
        line, col = self._pos(node)
        return SpecSyntaxError(_diag(code, message, self.file, line, col, path, hint))

    def build(self, node: Node, path: Path = (), depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise self._fail("MLS008", f"document nests deeper than {MAX_DEPTH} levels", node, path)
        if self.nodes > MAX_NODES:
            raise self._fail("MLS007", f"document expands to more than {MAX_NODES} nodes", node, path,
                             "aliases that refer to aliases multiply; write the values out")
        mark = node.start_mark
        self.source.values[path] = (mark.line + 1, mark.column + 1)
        kind = type(node).__name__
        tag = str(node.tag)
        if kind == "ScalarNode":
            return self._scalar(node, tag, path)  # type: ignore[arg-type]
        ident = id(node)
        if ident in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self._fail("MLS007", f"more than {MAX_ALIASES} alias uses", node, path)
        self.seen.add(ident)
        self.source.collections.add(path)
        if kind == "SequenceNode":
            self._check_collection_tag(node, tag, "seq", path)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if kind in ("MappingNode", "CommentedMapNode"):
            self._check_collection_tag(node, tag, "map", path)
            return self._mapping(node, path, depth)  # type: ignore[arg-type]
        raise self._fail("MLS003", "unsupported YAML node", node, path)

    def _check_collection_tag(self, node: Node, tag: str, expected: str, path: Path) -> None:
        if tag != _STD + expected:
            raise self._fail("MLS006", f"tag {tag!r} is not allowed", node, path,
                             "specs are data: remove the tag")

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not _is_scalar(key_node):
                raise self._fail("MLS003", "mapping keys must be plain strings", key_node, path)
            key = self._text(key_node, path)
            if key == "<<" and str(key_node.tag) in (_PLAIN, _STD + "merge"):
                raise self._fail("MLS013", "merge keys (`<<`) are not supported", key_node, path,
                                 "write the keys out; merges hide what a spec really says")
            child = (*path, key)
            if key in out:
                first = self.source.keys[child]
                line, col = self._pos(key_node)
                self.problems.append(_diag(
                    "MLS005", f"duplicate key {key!r} (first defined at line {first[0]})",
                    self.file, line, col, child, "a key may appear once per mapping"))
                continue
            self.source.keys[child] = self._pos(key_node)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def _text(self, node: Node, path: Path) -> str:
        text = str(node.value)
        if text.isascii():
            return text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # `\ud83d\ude00` escapes (JSON style) are one character written as a surrogate pair.
            try:
                text = text.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeError:
                raise self._fail("MLS002", "a string contains a lone surrogate escape, which is not text",
                                 node, path, "remove the \\uD800-\\uDFFF escape") from None
        return text

    def _scalar(self, node: ScalarNode, tag: str, path: Path) -> Any:
        text = self._text(node, path)
        if tag == _PLAIN:
            return _plain_scalar(text)
        if not tag.startswith(_STD):
            raise self._fail("MLS006", f"tag {tag!r} is not allowed", node, path, "specs are data: remove the tag")
        kind = tag[len(_STD):]
        if kind == "str":
            return text
        if kind in ("int", "float", "bool", "null"):
            value = _plain_scalar(text)
            ok = {
                "int": isinstance(value, int) and not isinstance(value, bool),
                "float": isinstance(value, int | float) and not isinstance(value, bool),
                "bool": isinstance(value, bool),
                "null": value is None,
            }[kind]
            if ok:
                return float(value) if kind == "float" else value
            raise self._fail("MLS006", f"{text!r} is not a valid !!{kind}", node, path)
        raise self._fail("MLS006", f"tag {tag!r} is not allowed", node, path, "specs are data: remove the tag")


def _too_large(size: int, file: str) -> Diagnostic:
    return _diag("MLS001", f"file is {size} bytes; the limit is {MAX_BYTES}", file, 1, 1,
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
        return None, _diag("MLS001", "no such file", file, 1, 1)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "")
        reason = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
        return None, _diag("MLS014", f"cannot read the file: {reason}", file, 1, 1,
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
        return None, [_diag("MLS002", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file, line, col,
                            hint="save the file as UTF-8")]
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return None, [_diag("MLS002", "file contains NUL bytes", file, line, col, hint="save the file as UTF-8 text")]
    return text, []


def _tab_problems(text: str, file: str) -> list[Diagnostic]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip() and not line.lstrip().startswith("#"):
            problems.append(_diag("MLS004", "tab character in indentation", file, number, indent.index("\t") + 1,
                                  hint="YAML indents with spaces only"))
    return problems


def _compose_libyaml(text: str) -> list[Node]:
    return list(yaml.compose_all(text, Loader=_Resolver))


def _compose_ruamel(text: str) -> list[Node]:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    class Resolver(VersionedResolver):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is RuamelScalar and implicit[0]:
                return Tag(suffix=_PLAIN)
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
        return _diag("MLS003", f"YAML syntax error: {reason}", file, line, col)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return _diag("MLS003", message, file, line, col)


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
                return _diag("MLS008", f"document nests deeper than {MAX_DEPTH} levels", file,
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
        deep = _too_deep(yaml.parse(text[: mark.index], Loader=_Resolver), file)
    except (yaml.YAMLError, RecursionError):
        deep = None
    return deep or _diag("MLS008", f"document nests deeper than {MAX_DEPTH} levels", file, mark.line + 1,
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
        return None, _diag("MLS008", "document nests too deeply", file, 1, 1, hint="flatten the structure")
    except Exception as exc:  # ruamel raises many unrelated classes for bad input
        return None, _syntax_diag(exc, file, text)


def load_document(raw: bytes, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Load one YAML document. Returns (document, diagnostics); document is None on fatal problems."""
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
        return None, [_diag("MLS010", "the file is empty", file, 1, 1, hint="start from `mlspec init NAME`")]
    if len(nodes) > 1:
        second = nodes[1].start_mark
        return None, [_diag("MLS009", "more than one YAML document in the file", file, second.line + 1,
                            second.column + 1, hint="put one model in each file")]
    source = SourceMap(file)
    builder = _Builder(file, source)
    try:
        data = builder.build(nodes[0])
    except SpecSyntaxError as exc:
        return None, [*builder.problems, exc.diag]
    except RecursionError:
        return None, [_diag("MLS008", "document nests too deeply", file, 1, 1, hint="flatten the structure")]
    if not isinstance(data, dict):
        line, col = source.locate(())
        return None, [_diag("MLS010", "the top level must be a mapping", file, line, col,
                            hint="a spec starts with `apiVersion: mlspec/v1`")]
    sha = hashlib.sha256(raw).hexdigest()
    return Document(file, data, source, sha), builder.problems


def iter_paths(data: Any, path: Path = ()) -> Iterator[Path]:
    """Every path in a loaded document (used by tests and by the source-map consumers)."""
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from iter_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_paths(value, (*path, index))
