"""From composed YAML nodes to plain data and a source map (compiler.language.yamlsource composes them).

Scalars resolve by YAML 1.2 core-schema rules (a feature named `no` stays a string); duplicate keys,
merge keys and object-constructing tags are refused; alias uses, nodes and depth are counted, so a
billion-laughs file fails fast. Positions are not recorded while building: the source map keeps the
composed nodes and finds a path's position when a diagnostic asks for one (a few per spec, against a
dictionary entry for each of a spec's ~600 keys and values, a quarter of the building). The same builder
and source map walk libyaml's and ruamel.yaml's nodes (identically shaped classes), so both parsers give
identical data and positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compiler.diagnostics import Diagnostic, Path
from compiler.language.yaml_watch import CLEAN_KEYS, UNWATCHED, Watch, Watched

MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_NODES = 100_000

PLAIN_TAG = "!plain"
STD_TAG = "tag:yaml.org,2002:"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"(?:~|null|Null|NULL|)")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
# The plain scalars starting with a letter that are not strings.
_KEYWORDS = frozenset((*_BOOL, "null", "Null", "NULL"))
# The patterns above as one, in the order they are tried: the alternative that matches the whole text
# first names its type (one scan of a spec's numbers and units instead of up to seven).
_CORE = re.compile("|".join(f"(?P<{name}>{pattern.pattern})" for name, pattern in (
    ("null", _NULL), ("int10", _INT10), ("int8", _INT8), ("int16", _INT16), ("float", _FLOAT), ("inf", _INF),
    ("nan", _NAN))))


_STR, _SEQ, _MAP = STD_TAG + "str", STD_TAG + "seq", STD_TAG + "map"
_NO_PATH_RESOLVERS: dict[Any, Any] = {}  # never filled: see Resolver.descend_resolver


class Resolver(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Marks untagged plain scalars instead of resolving them with YAML 1.1 rules.

    The composer asks it for every node's tag and tells it every step down and up the tree (for path
    resolvers, which this loader never has): a tenth of composing a spec went to those calls, so they
    are answered without PyYAML's general resolver, and the steps by C functions that do nothing
    (`{}.get(parent, index)`, `tuple()`) instead of Python methods that return at once.
    """

    descend_resolver = _NO_PATH_RESOLVERS.get
    ascend_resolver = tuple

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


class SpecSyntaxError(Exception):
    """Internal: a problem that stops building data from the node tree (reported as a diagnostic)."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


_MAPPINGS = ("MappingNode", "CommentedMapNode")
_COLLECTIONS = ("SequenceNode", *_MAPPINGS)


@dataclass(slots=True)
class SourceMap:
    """Positions (1-based line, column) of values and keys by document path, read from the composed nodes.

    A path is located by walking `root` the way the builder made the data: a mapping's first key of that
    text (a duplicate is reported and dropped), a sequence's item by index, an alias as the node it names.
    """

    file: str
    root: Any = None  # the document's node (libyaml's or ruamel.yaml's); None: nothing to locate in
    # A view of part of a document (`within`): the key node its root hangs from, and the position of
    # its root when the part is not in the file.
    root_key: Any = None
    base: tuple[int, int] = (1, 1)
    # A block collection "starts" at its first child, so findings about the whole collection read
    # better at its key (`rollout:`, not `canary:`). A view answers with the values' own positions, as
    # compiler.pipeline's settings views always have (the position of a settings error in mlspec.yaml).
    collections_at_key: bool = True

    def locate(self, path: Path, *, at_key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        chain = self._chain(path)
        node, key = chain[-1]
        if at_key and key is not None and len(chain) == len(path) + 1:
            return _position(key)
        if len(chain) == 1:
            return _position(node) if node is not None else self.base
        if self.collections_at_key and key is not None and type(node).__name__ in _COLLECTIONS:
            return _position(key)
        return _position(node)

    def place(self, diag: Diagnostic, *, at_key: bool = False) -> Diagnostic:
        line, col = self.locate(diag.path, at_key=at_key)
        return diag.at(self.file, line, col)

    def within(self, prefix: Path) -> SourceMap:
        """The source map of the part of the document at `prefix`, answering with positions in the whole file."""
        chain = self._chain(prefix)
        node, key = chain[-1] if len(chain) == len(prefix) + 1 else (None, None)
        return SourceMap(self.file, node, key, self.locate(prefix), collections_at_key=False)

    def _chain(self, path: Path) -> list[tuple[Any, Any]]:
        """(node, key node or None) for the root and each step of `path` that exists in the file."""
        chain: list[tuple[Any, Any]] = [(self.root, self.root_key)]
        node = self.root
        for part in path:
            kind = type(node).__name__
            if kind == "SequenceNode" and part in range(len(node.value)):  # as a dict's key: 1 == 1.0 == True
                key, node = None, node.value[int(part)]
            elif kind in _MAPPINGS and isinstance(part, str):  # keys are text: "1" is not 1
                found = next(((k, v) for k, v in node.value if key_text(k) == part), None)
                if found is None:
                    break
                key, node = found
            else:
                break
            chain.append((node, key))
        return chain

    # Every path's position at once: what the builder used to record (tests compare parsers with them).

    @property
    def values(self) -> dict[Path, tuple[int, int]]:
        return {path: _position(node) for path, node, _ in self._walk()}

    @property
    def keys(self) -> dict[Path, tuple[int, int]]:
        return {path: _position(key) for path, _, key in self._walk() if key is not None}

    @property
    def collections(self) -> set[Path]:
        return {path for path, node, _ in self._walk() if type(node).__name__ in _COLLECTIONS}

    def _walk(self) -> Iterator[tuple[Path, Any, Any]]:
        if self.root is None:
            return
        stack: list[tuple[Path, Any, Any]] = [((), self.root, self.root_key)]
        while stack:
            path, node, key = stack.pop()
            yield path, node, key
            kind = type(node).__name__
            if kind == "SequenceNode":
                stack.extend(((*path, i), item, None) for i, item in enumerate(node.value))
            elif kind in _MAPPINGS:
                seen: set[str] = set()
                for key_node, value_node in node.value:
                    text = key_text(key_node)
                    if text is not None and text not in seen:
                        seen.add(text)
                        stack.append(((*path, text), value_node, key_node))


def _position(node: Any) -> tuple[int, int]:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def key_text(node: Any) -> str | None:
    """A key node's text as the builder reads it (`Builder._text`); None for a key it refuses."""
    return _decoded(str(node.value)) if _is_scalar(node) else None


def _decoded(text: str) -> str | None:
    """A scalar's text, with `\\ud83d\\ude00` escapes (JSON style: one character written as a surrogate pair)
    joined; None for a lone surrogate escape, which is not text."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeError:
            return None
    return text


@dataclass(slots=True)
class Document:
    file: str
    data: Any
    source: SourceMap
    sha256: str
    # What the builder's Watch reported (compiler.language.yamlsource.load_document); None without one.
    watched: list[Watched] | None = field(default=None)


def diag_at(code: str, message: str, file: str, line: int, col: int, path: Path = (),
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
    # The rest: no spelling of true or false (they start with a letter), so the core patterns in order.
    match = _CORE.fullmatch(text)
    kind = match.lastgroup if match is not None else None
    if kind is None:
        return text
    if kind == "null":
        return None
    if kind == "int10":
        return int(text)
    if kind in ("int8", "int16"):
        return int(text[2:], 8 if kind == "int8" else 16)
    if kind == "float":
        return float(text)
    if kind == "inf":
        return -math.inf if text.startswith("-") else math.inf
    return math.nan


class Builder:
    """Turns a composed node tree into plain data, enforcing the limits (its SourceMap is the same nodes)."""

    def __init__(self, file: str, watch: Watch | None = None) -> None:
        self.file = file
        self.seen: set[int] = set()
        self.aliases = 0
        self.nodes = 0
        self.problems: list[Diagnostic] = []
        watch = watch or UNWATCHED
        self._flags, self._fields, self._clean_keys = watch.flags, watch.fields, watch.clean_keys
        # The watched strings in the reverse of their walk order (`watched` turns it round): a collection's
        # children forward, each with its own part reversed, then its flagged keys last to first. That is
        # the order building visits them in, so nothing is sorted or concatenated.
        self._reversed: list[Watched] = []

    @property
    def watched(self) -> list[Watched]:
        """What the Watch reported, in walk order (see Watch)."""
        return self._reversed[::-1]

    def _fail(self, code: str, message: str, node: Node, path: Path, hint: str | None = None) -> SpecSyntaxError:
        line, col = _position(node)
        return SpecSyntaxError(diag_at(code, message, self.file, line, col, path, hint))

    def build(self, node: Node, path: Path = (), depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise self._fail("MLS008", f"document nests deeper than {MAX_DEPTH} levels", node, path)
        if self.nodes > MAX_NODES:
            raise self._fail("MLS007", f"document expands to more than {MAX_NODES} nodes", node, path,
                             "aliases that refer to aliases multiply; write the values out")
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
        if kind == "SequenceNode":
            self._check_collection_tag(node, tag, "seq", path)
            return self._sequence(node, path, depth)  # type: ignore[arg-type]
        if kind in _MAPPINGS:
            self._check_collection_tag(node, tag, "map", path)
            return self._mapping(node, path, depth)  # type: ignore[arg-type]
        raise self._fail("MLS003", "unsupported YAML node", node, path)

    def _child(self, node: Node, path: Path, depth: int) -> Any:
        """`build` for a child, with most of a spec's nodes (libyaml's untagged ASCII scalars that are
        names, within every limit) handled here: the same steps as `build` and `_scalar` take for them,
        without their calls. Anything else goes to `build`. tests/test_loader_builders.py compares both."""
        if type(node) is ScalarNode and node.tag == PLAIN_TAG and depth <= MAX_DEPTH and self.nodes < MAX_NODES:
            text = node.value
            if text[:1].isalpha() and text.isascii() and text not in _KEYWORDS:
                self.nodes += 1
                return text
        return self.build(node, path, depth)

    def _check_collection_tag(self, node: Node, tag: str, expected: str, path: Path) -> None:
        if tag != STD_TAG + expected:
            raise self._fail("MLS006", f"tag {tag!r} is not allowed", node, path,
                             "specs are data: remove the tag")

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> list[Any]:
        out: list[Any] = []
        flags, found = self._flags, self._reversed
        for i, item in enumerate(node.value):
            child = (*path, i)
            value = self._child(item, child, depth + 1)
            if value.__class__ is str and flags(value):
                found.append((child, value, False))
            out.append(value)
        return out

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        flags, fields, clean_keys, found = self._flags, self._fields, self._clean_keys, self._reversed
        keys: list[Watched] | None = None
        for key_node, value_node in node.value:
            if type(key_node) is ScalarNode and key_node.value.isascii():
                key = key_node.value  # libyaml's ASCII key, as `_text` returns it
            elif not _is_scalar(key_node):
                raise self._fail("MLS003", "mapping keys must be plain strings", key_node, path)
            else:
                key = self._text(key_node, path)
            if key == "<<" and str(key_node.tag) in (PLAIN_TAG, STD_TAG + "merge"):
                raise self._fail("MLS013", "merge keys (`<<`) are not supported", key_node, path,
                                 "write the keys out; merges hide what a spec really says")
            if key in out:
                first = _position(next(k for k, _ in node.value if key_text(k) == key))
                line, col = _position(key_node)
                self.problems.append(diag_at(
                    "MLS005", f"duplicate key {key!r} (first defined at line {first[0]})",
                    self.file, line, col, (*path, key), "a key may appear once per mapping"))
                continue
            # libyaml's plain ASCII scalars within every limit, as `build` and `_scalar` take them, inline and
            # without the value's path, which only the watch may need: most of a spec's values are names
            # (returned as they are, as in `_child`) or numbers and units (a call and a tuple less for each).
            if (type(value_node) is ScalarNode and value_node.tag == PLAIN_TAG and depth < MAX_DEPTH
                    and self.nodes < MAX_NODES and (value := value_node.value).isascii()):
                self.nodes += 1
                if not value[:1].isalpha() or value in _KEYWORDS:
                    value = _plain_scalar(value)
                out[key] = value
            else:
                value = out[key] = self.build(value_node, (*path, key), depth + 1)
            if value.__class__ is str and (flags(value) or key in fields):
                found.append(((*path, key), value, False))
            if key in clean_keys:
                continue
            if flags(key):
                if keys is None:
                    keys = []
                keys.append(((*path, key), key, True))
            elif len(clean_keys) < CLEAN_KEYS:
                clean_keys.add(key)
        if keys:
            found.extend(reversed(keys))
        return out

    def _text(self, node: Node, path: Path) -> str:
        text = _decoded(str(node.value))
        if text is None:
            raise self._fail("MLS002", "a string contains a lone surrogate escape, which is not text",
                             node, path, "remove the \\uD800-\\uDFFF escape")
        return text

    def _scalar(self, node: ScalarNode, tag: str, path: Path) -> Any:
        text = self._text(node, path)
        if tag == PLAIN_TAG:
            return _plain_scalar(text)
        if not tag.startswith(STD_TAG):
            raise self._fail("MLS006", f"tag {tag!r} is not allowed", node, path, "specs are data: remove the tag")
        kind = tag[len(STD_TAG):]
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
