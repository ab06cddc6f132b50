"""Semantic rules on a spec that has schema errors, so one lint run reports every problem.

Every top-level section that validates on its own is built as usual; a section with a schema error is
replaced by a stand-in that refuses to be read. Each rule then runs as it would on a valid spec, and a
rule that touches a broken section is dropped whole (it cannot judge what it cannot read), so no
finding is a consequence of another error. Which sections a rule reads is discovered by running it,
not declared, so a new rule needs nothing to take part. (The string rules need no model at all:
compiler.check.text_rules reads the document as loaded, so they judge every string whatever is broken.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, NoReturn

from pydantic import TypeAdapter, ValidationError

from compiler.diagnostics import Diagnostic
from compiler.language.project import Project
from compiler.language.spec import Spec


class SectionUnavailable(Exception):
    """A rule read a section that failed schema validation."""


class _Broken:
    """Stands in for a section with schema errors; any use of it raises SectionUnavailable."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _refuse(self, *_: Any) -> NoReturn:
        raise SectionUnavailable(self.name)

    def __getattr__(self, _attr: str) -> NoReturn:
        raise SectionUnavailable(self.name)

    __iter__ = __len__ = __bool__ = __getitem__ = __contains__ = __eq__ = __lt__ = __hash__ = _refuse


def _adapters() -> dict[str, TypeAdapter[Any]]:
    # A field's constraints (e.g. `owners` needs at least one) live in its metadata, not its annotation.
    adapters: dict[str, TypeAdapter[Any]] = {}
    for name, field in Spec.model_fields.items():
        annotation: Any = field.annotation
        if field.metadata:
            annotation = Annotated[(annotation, *field.metadata)]
        adapters[name] = TypeAdapter(annotation)
    return adapters


_ADAPTERS: dict[str, TypeAdapter[Any]] | None = None


def partial_spec(data: Mapping[str, Any], broken: Iterable[str]) -> Spec:
    """A Spec whose sections in `broken`, and any that fail alone, are stand-ins that refuse reads."""
    global _ADAPTERS
    if _ADAPTERS is None:
        _ADAPTERS = _adapters()
    broken = set(broken)
    values: dict[str, Any] = {}
    for name, field in Spec.model_fields.items():
        key = field.alias or name
        if key in broken:
            values[name] = _Broken(key)
        elif key not in data:
            values[name] = field.get_default(call_default_factory=True) if not field.is_required() else _Broken(key)
        else:
            try:
                values[name] = _ADAPTERS[name].validate_python(data[key])
            except ValidationError:
                values[name] = _Broken(key)
    return Spec.model_construct(**values)


def broken_sections(exc: ValidationError) -> set[str]:
    return {str(error["loc"][0]) for error in exc.errors() if error["loc"]}


def rules_on_valid_sections(data: Mapping[str, Any], exc: ValidationError, project: Project) -> list[Diagnostic]:
    """The semantic findings that do not depend on any section with a schema error."""
    from compiler.check.rules import RULES

    if not isinstance(data, Mapping):
        return []
    spec = partial_spec(data, broken_sections(exc))
    found: list[Diagnostic] = []
    for rule in RULES:
        try:
            found.extend(list(rule(spec, project)))
        except SectionUnavailable:
            continue  # it read a broken section
    return found
