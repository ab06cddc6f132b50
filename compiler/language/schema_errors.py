"""Turn pydantic validation errors into positioned diagnostics with did-you-mean hints."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from compiler.diagnostics import Diagnostic, Path, closest
from compiler.language.spec import check_duration
from compiler.language.yamlsource import Document

_TYPE_ERRORS = {
    "string_type", "int_type", "float_type", "bool_type", "dict_type", "list_type", "model_type",
    "int_parsing", "float_parsing", "bool_parsing", "int_from_float", "model_attributes_type",
    "string_sub_type", "none_required", "is_instance_of",
}
_ENUM_ERRORS = {"literal_error", "enum", "union_tag_invalid", "union_tag_not_found"}


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _navigate(loc: tuple[Any, ...], data: Any, missing: bool) -> Path:
    """Drop the parts of a pydantic location that are not document keys (union members, tags)."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if part == "[key]":
            continue
        if _has(current, part):
            path.append(part)
            current = current[part]
        elif missing and index == len(loc) - 1 and isinstance(part, str):
            path.append(part)
    return tuple(path)


def _unwrap(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation stands for, given the value found in the document."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0], value)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in (_unwrap(arg, value) for arg in typing.get_args(annotation)) if m is not None]
        if len(members) > 1 and isinstance(value, dict):
            kind = value.get("kind")
            for member in members:
                field = member.model_fields.get("kind")
                if field is not None and kind in typing.get_args(field.annotation):
                    return member
            return None
        return members[0] if len(members) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _container_item(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _container_item(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _container_item(arg)
            if inner is not None:
                return inner
        return None
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def _field_name(model: type[BaseModel], key: str) -> str | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return name
    return None


def model_at(root: type[BaseModel], path: Path, data: Any) -> type[BaseModel] | None:
    """The model class whose instance sits at `path` in `data` (None when it is not a model)."""
    model: type[BaseModel] | None = root
    annotation: Any = root
    value = data
    for part in path:
        if model is not None and isinstance(part, str):
            name = _field_name(model, part)
            if name is None:
                return None
            annotation = model.model_fields[name].annotation
        else:
            annotation = _container_item(annotation)
            if annotation is None:
                return None
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            value = None
        # For a list or dict of models `model` is None here and the next index resolves it.
        model = _unwrap(annotation, value)
    return model


def _validators(annotation: Any) -> Iterator[Any]:
    """The metadata (validators, constraints) of an annotation and of each member of a union."""
    if typing.get_origin(annotation) is typing.Annotated:
        yield from typing.get_args(annotation)[1:]
        yield from _validators(typing.get_args(annotation)[0])
    elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _validators(arg)


def _is_duration(root: type[BaseModel], path: Path, data: Any) -> bool:
    """Whether the field at `path` is a spec `Duration` (30s, 5m, 1h30m)."""
    if not path or not isinstance(path[-1], str):
        return False
    parent = model_at(root, path[:-1], data)
    name = _field_name(parent, path[-1]) if parent else None
    if parent is None or name is None:
        return False
    info = parent.model_fields[name]
    return any(getattr(m, "func", None) is check_duration for m in (*info.metadata, *_validators(info.annotation)))


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def diagnostics_from_validation(exc: ValidationError, doc: Document, root: type[BaseModel]) -> list[Diagnostic]:
    out: dict[Path, Diagnostic] = {}
    for error in exc.errors(include_url=False):
        kind = str(error["type"])
        path = _navigate(tuple(error["loc"]), doc.data, kind == "missing")
        if path in out:
            continue  # union members report the same value more than once; the first is enough
        value = error.get("input")
        ctx = error.get("ctx") or {}
        hint: str | None = None
        at_key = False
        if kind == "extra_forbidden":
            code, at_key = "MLS101", True
            parent = model_at(root, path[:-1], doc.data)
            choices = allowed_keys(parent) if parent else []
            message = f"unknown key {path[-1]!r}"
            guess = closest(str(path[-1]), choices)
            if guess:
                hint = f"did you mean {guess!r}?"
            elif choices:
                hint = "allowed keys: " + ", ".join(choices)
        elif kind == "missing":
            code, at_key = "MLS102", True
            message = f"missing required key {path[-1]!r}"
            line = doc.source.locate(path[:-1], at_key=True)
            out[path] = Diagnostic(code, message, path=path, file=doc.file, line=line[0], col=line[1])
            continue
        elif kind in _ENUM_ERRORS:
            code = "MLS104"
            expected = str(ctx.get("expected_tags") or ctx.get("expected") or "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
            if kind == "union_tag_not_found":
                message = "missing required key 'kind'"
                code, at_key = "MLS102", True
            else:
                if kind == "union_tag_invalid":
                    path = (*path, "kind")  # pydantic reports the mapping; the fix is its `kind`
                    if path in out:
                        continue
                shown = ctx.get("tag", value)
                message = f"{shown!r} is not one of: {', '.join(choices)}"
                guess = closest(str(shown), choices)
                hint = f"did you mean {guess!r}?" if guess else None
        elif kind in _TYPE_ERRORS:
            code = "MLS103"
            message = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_kind_of(value)}"
            if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
                # A bare number for a duration needs a unit, not quotes: "150" would fail next as MLS205.
                hint = (f"durations need a unit: {value:g}ms, {value:g}s or {value:g}m"
                        if _is_duration(root, path, doc.data) else f'quote it: "{value}"')
        elif kind.startswith("MLS"):
            code, message = kind, str(error["msg"])
            if isinstance(value, str) and value != value.strip():
                hint = "remove the whitespace around the value (a newline, tab or space counts)"
        else:
            code = "MLS105"
            message = f"{error['msg'][0].lower()}{error['msg'][1:]}"
            if kind == "finite_number":
                hint = "NaN and infinity are not limits: write a number"
        diag = Diagnostic(code, message, path=path, hint=hint)
        out[path] = doc.source.place(diag, at_key=at_key)
    return _drop_explained_missing(list(out.values()))


def _drop_explained_missing(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A misspelled key is one mistake: keep "unknown key 'framwork', did you mean 'framework'?" and
    drop the "missing 'framework'" it implies."""
    guessed = {(d.path[:-1], d.hint) for d in diags if d.code == "MLS101" and d.hint}
    return [d for d in diags
            if not (d.code == "MLS102" and (d.path[:-1], f"did you mean {d.path[-1]!r}?") in guessed)]
