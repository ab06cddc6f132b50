"""Validate custom resources against CustomResourceDefinitions, strictly.

CRD schemas leave objects open because the API server prunes unknown fields; for a compiler that
means a typo (`storageUrl`) is silently dropped on apply. So every structural object schema that
lists `properties` is closed with `additionalProperties: false` unless the CRD asks to keep unknown
fields. OpenAPI v3.0 and Kubernetes extensions that JSON Schema 2020-12 reads differently are
translated first (see `_translate`). CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import referencing.exceptions
import yaml

from compiler.diagnostics import Diagnostic
from compiler.validation.common import (
    CRDS_INVALID,
    SCHEMA_VIOLATION,
    check_object_meta,
    schema_errors,
)

Schema = dict[str, Any]
Key = tuple[str, str]  # (apiVersion "group/version", kind)

_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


@dataclass
class CrdIndex:
    """Strict schemas of every served version of every CRD found under one folder."""

    root: Path
    schemas: dict[Key, Schema]
    sources: dict[Key, str]  # CRD file (relative to root) that defines each key
    problems: list[Diagnostic]  # files that could not be used, reported once per validation run
    _validators: dict[Key, jsonschema.Draft202012Validator] = field(default_factory=dict, repr=False)

    def knows(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.schemas

    def validator(self, api_version: str, kind: str) -> jsonschema.Draft202012Validator:
        key = (api_version, kind)
        if key not in self._validators:
            # No format checker: Kubernetes formats (int-or-string, quantity, byte) are not JSON Schema
            # formats, and the API server ignores most of them as well.
            self._validators[key] = jsonschema.Draft202012Validator(self.schemas[key])
        return self._validators[key]


def load_crds(directory: Path) -> CrdIndex:
    """The index for `directory`, loaded once per process while the files stay unchanged."""
    root = directory.resolve()
    return _load_cached(str(root), _fingerprint(root))


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    out: list[tuple[str, int, int]] = []
    for path in _yaml_files(root):
        st = path.stat()
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath, f) for f in sorted(filenames) if f.endswith((".yaml", ".yml"))]
    return found


@lru_cache(maxsize=8)
def _load_cached(root_str: str, fingerprint: tuple[tuple[str, int, int], ...]) -> CrdIndex:
    root = Path(root_str)
    index = CrdIndex(root=root, schemas={}, sources={}, problems=[])
    if not root.is_dir():
        index.problems.append(Diagnostic(CRDS_INVALID, f"CRD folder {root_str} does not exist"))
        return index
    for path, _mtime, _size in fingerprint:
        rel = os.path.relpath(path, root_str)
        try:
            with open(path, "rb") as fh:
                docs = list(yaml.load_all(fh, Loader=yaml.CSafeLoader))
        except (OSError, yaml.YAMLError) as exc:
            index.problems.append(Diagnostic(CRDS_INVALID, f"cannot read CRD file: {exc}", file=rel))
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                _add_crd(index, doc, rel)
    return index


def _add_crd(index: CrdIndex, crd: Mapping[str, Any], rel: str) -> None:
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    for version in spec.get("versions") or []:
        if not version.get("served"):
            continue
        raw = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        key = (f"{group}/{version.get('name')}", str(kind))
        if not isinstance(raw, dict):
            index.problems.append(
                Diagnostic(CRDS_INVALID, f"{key[0]} {kind} has no openAPIV3Schema", file=rel)
            )
            continue
        index.schemas[key] = strict_schema(raw)
        index.sources[key] = rel


def strict_schema(openapi: Mapping[str, Any]) -> Schema:
    """A Draft 2020-12 schema that accepts what the CRD accepts, minus unknown fields."""
    schema: Schema = _translate(copy.deepcopy(dict(openapi)), structural=True)
    props = schema.setdefault("properties", {})
    # apiVersion/kind/metadata are implicit in every CRD (Istio's schema does not list them), and
    # ObjectMeta is validated by `check_object_meta` rather than by whatever the CRD says.
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"type": "object"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _translate(node: Any, *, structural: bool) -> Any:
    if not isinstance(node, dict):
        return node
    # CRDs may not use references; drop any so a stray `$ref` cannot send jsonschema resolving URLs.
    for key in [k for k in node if isinstance(k, str) and k.startswith("$")]:
        del node[key]
    _openapi_to_2020(node)
    for key in ("properties", "patternProperties"):
        if isinstance(node.get(key), dict):
            node[key] = {k: _translate(v, structural=structural) for k, v in node[key].items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _translate(node["items"], structural=structural)
    elif isinstance(node.get("items"), list):  # OpenAPI tuple form; 2020-12 calls it prefixItems
        node["prefixItems"] = [_translate(v, structural=structural) for v in node.pop("items")]
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _translate(node["additionalProperties"], structural=structural)
    # Inside allOf/anyOf/oneOf/not a `properties` list only constrains, it does not describe the whole
    # object, so closing it there would reject valid documents.
    for key in _JUNCTORS:
        if isinstance(node.get(key), list):
            node[key] = [_translate(v, structural=False) for v in node[key]]
    if isinstance(node.get("not"), dict):
        node["not"] = _translate(node["not"], structural=False)
    if (
        structural
        and "properties" in node
        and "additionalProperties" not in node
        and node.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        node["additionalProperties"] = False
    return node


def _openapi_to_2020(node: Schema) -> None:
    if node.get("x-kubernetes-int-or-string") is True:
        node.pop("type", None)
        if not any(k in node for k in _JUNCTORS):
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") is True:
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
    # OpenAPI 3.0 booleans; in 2020-12 these keywords are numbers (True would mean "> 1").
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(node.get(exclusive), bool) and node.pop(exclusive) and bound in node:
            node[exclusive] = node.pop(bound)
    if isinstance(node.get("pattern"), str):
        pattern = _python_pattern(node["pattern"])
        if pattern is None:
            del node["pattern"]  # not expressible in Python's re; the API server still checks it
        else:
            node["pattern"] = pattern


def _python_pattern(pattern: str) -> str | None:
    """Go RE2 allows inline flags anywhere (`^(?i)(abort|warn)?$` in PrometheusRule); Python wants them
    first, and for a flag group at the start of the pattern the meaning is the same."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        pass
    flags = "".join(m.group(0) for m in _INLINE_FLAGS.finditer(pattern))
    moved = flags + _INLINE_FLAGS.sub("", pattern)
    try:
        re.compile(moved)
        return moved
    except re.error:
        return None


def validate_custom_resource(doc: Mapping[str, Any], index: CrdIndex) -> list[Diagnostic]:
    """Every schema and metadata error of one custom resource whose kind `index` knows."""
    api_version, kind = str(doc.get("apiVersion")), str(doc.get("kind"))
    validator = index.validator(api_version, kind)
    try:
        found = schema_errors(validator.iter_errors(doc), SCHEMA_VIOLATION)
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable, re.error) as exc:
        source = index.sources[(api_version, kind)]
        return [Diagnostic(CRDS_INVALID, f"the CRD schema in {source} cannot be evaluated: {exc}")]
    return found + check_object_meta(doc, strict_keys=True)
