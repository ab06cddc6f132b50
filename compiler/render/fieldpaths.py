"""Field paths of structural changes between two documents, as the per-resource diff shows them.

Shared by compiler.deploy.diff (what changed between two trees) and compiler.render.patches (what a declared
patch changed in a rendered object), so the diff can say which of its changes came from a patch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Segment = str | int | tuple[str, str]  # key, list index, or ("name", value) for a list item matched by name


def format_path(path: Sequence[Segment]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, tuple):
            out += f"[{part[0]}={part[1]}]"
        elif _KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(document)"


# List items are matched by the first of these keys that every item has a unique value for: `name`
# (containers, steps, env), then a Prometheus rule's `alert`/`record`, so rules are addressed by alert
# name (`rules[alert=FraudDetectorLatency]`) rather than by position.
_ITEM_KEYS = ("name", "alert", "record")


def _item_key(item: Any) -> tuple[str, str] | None:
    if isinstance(item, dict):
        for key in _ITEM_KEYS:
            if isinstance(item.get(key), str):
                return key, item[key]
    return None


def _named(items: list[Any]) -> dict[tuple[str, str], Any] | None:
    keys = [_item_key(i) for i in items]
    if not items or any(k is None for k in keys) or len(set(keys)) != len(keys):
        return None
    return {k: i for k, i in zip(keys, items, strict=True) if k is not None}


Change = tuple[str, tuple[Segment, ...], Any, Any]


def field_changes(old: Any, new: Any, path: tuple[Segment, ...] = ()) -> list[Change]:
    """(op, path, old, new) for every differing leaf or subtree."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Change] = []
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new:
                found.append(("-", (*path, str(key)), old[key], None))
            elif key not in old:
                found.append(("+", (*path, str(key)), None, new[key]))
            else:
                found.extend(field_changes(old[key], new[key], (*path, str(key))))
        return found
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None:
            found = []
            for name in [*old_named, *(n for n in new_named if n not in old_named)]:
                seg: tuple[str, str] = name
                if name not in new_named:
                    found.append(("-", (*path, seg), old_named[name], None))
                elif name not in old_named:
                    found.append(("+", (*path, seg), None, new_named[name]))
                else:
                    found.extend(field_changes(old_named[name], new_named[name], (*path, seg)))
            return found
        found = []
        for i in range(max(len(old), len(new))):
            if i >= len(new):
                found.append(("-", (*path, i), old[i], None))
            elif i >= len(old):
                found.append(("+", (*path, i), None, new[i]))
            else:
                found.extend(field_changes(old[i], new[i], (*path, i)))
        return found
    if old == new and type(old) is type(new):
        return []
    return [("~", path, old, new)]
