"""A value computed once per object, for objects that are frozen but not hashable by value (a run's
Project, a target's settings: they hold dicts, and hashing them by content would cost what is saved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def per_object(build: Callable[[K], V]) -> Callable[[K], V]:
    """`build(obj)`, computed once for each object passed and then remembered by identity.

    Each object is kept alive with its value, so its id cannot be reused by another object while the
    value is remembered. A run has a handful of such objects (one project, one settings object per
    target), so nothing is ever dropped."""
    known: dict[int, tuple[K, V]] = {}

    def value(obj: K) -> V:
        found = known.get(id(obj))
        if found is None or found[0] is not obj:
            found = known[id(obj)] = (obj, build(obj))
        return found[1]

    return value
