"""What a caller asks the YAML builder (compiler.language.yaml_data.Builder) to report while it builds a
document's data: strings it would otherwise find by walking the data again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from compiler.diagnostics import Path

# A string the builder was asked to watch for: (path, text, is_key).
Watched = tuple[Path, str, bool]


@dataclass(frozen=True, slots=True)
class Watch:
    """Strings a caller wants reported while the data is built, so it need not walk the data again (lint's
    string rules, compiler.check.text_rules: a walk of every spec's ~500 keys and values cost as much as
    building them, and the builder already holds each one's path).

    Reported: every mapping key and string value `flags` is true for, and every string value of a key in
    `fields`; in the order of a depth-first walk of the data from the last child back (a stack), keys as
    their mapping is entered, which is the order the string rules walked in (tests/test_text_rules_walk.py).
    """

    flags: Callable[[str], object]
    fields: frozenset[str] = frozenset()
    # Keys `flags` is false for: the specs of a run repeat a few dozen key names (their schema's), each
    # hundreds of times, so a set lookup answers most of them instead of `flags` (a regex search). At most
    # CLEAN_KEYS of them: the set lives as long as the Watch, and untrusted specs may use any keys.
    clean_keys: set[str] = field(default_factory=set, compare=False)


CLEAN_KEYS = 10_000


_NOTHING: dict[str, object] = {}
UNWATCHED = Watch(_NOTHING.get)  # flags nothing, at the cost of a C call (`{}.get(text)` is None)
