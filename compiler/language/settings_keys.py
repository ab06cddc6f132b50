"""One casing for mlspec.yaml: camelCase keys, like Kubernetes and the rest of the file.

Target settings models spell their keys camelCase through an alias generator (`CAMEL`) and still accept
the old snake_case field names, so existing mlspec.yaml files keep working; `deprecated_keys` finds the
old spellings so the core can warn at each key with the new one (MLS620).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from compiler.diagnostics import Path

# Settings models: camelCase aliases, and the snake_case names still validate (the deprecated spelling).
CAMEL = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


def deprecated_keys(model: type[BaseModel], raw: object, prefix: Path = ()) -> list[tuple[Path, str, str]]:
    """(path of the key, old spelling, new spelling) for every snake_case key of `raw` that `model`
    now spells differently, nested settings models included."""
    if not isinstance(raw, Mapping):
        return []
    found: list[tuple[Path, str, str]] = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        key: Any = name if name in raw and alias != name else alias
        if key == name and alias != name:
            found.append(((*prefix, name), name, alias))
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel) and key in raw:
            found += deprecated_keys(nested, raw[key], (*prefix, key))
    return found
