"""Plans in name order that are unpickled only when read: what `render_project` gets after one spec changed.

A render after one spec changed re-renders the project-wide files, and reading back every unchanged
spec's plan from the cache was a tenth of it. A target that builds its files from per-spec parts
(Target.project_part) needs only how many plans there are; one that reads a plan (a third-party target
without parts, a part that failed) gets all of them, loaded on that first read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import overload

from compiler.planning.plan import Plan


class LazyPlans(Sequence[Plan]):
    """`spec_paths` (in the plans' order, name order) are known up front; `load()` gives the plans."""

    def __init__(self, spec_paths: Sequence[str], load: Callable[[], list[Plan]]) -> None:
        self.spec_paths = tuple(spec_paths)
        self._load = load
        self._plans: list[Plan] | None = None

    @property
    def loaded(self) -> bool:
        return self._plans is not None

    def _all(self) -> list[Plan]:
        if self._plans is None:
            self._plans = self._load()
        return self._plans

    def __len__(self) -> int:
        return len(self.spec_paths)

    @overload
    def __getitem__(self, index: int) -> Plan: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Plan]: ...

    def __getitem__(self, index: int | slice) -> Plan | Sequence[Plan]:
        return self._all()[index]
