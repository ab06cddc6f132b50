"""Python's cycle collector switched for a block: the render and lint caches hold millions of long-lived
objects and no reference cycles, and the collector's full passes over them cost a quarter of a render
after one spec changed and ~5% of one spec's cold lint."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector(enabled: bool) -> Iterator[None]:
    """The cycle collector on or off within the block, as it was after it."""
    was = gc.isenabled()
    if enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


# Allocations between collections of the youngest generation (Python's default: 700).
SPACED = 20_000


@contextmanager
def spaced(threshold: int = SPACED) -> Iterator[None]:
    """The youngest generation collected every `threshold` net allocations within the block (and in the
    processes forked in it), the older ones as often relative to it; as it was after it.

    A spec's check holds more than 700 young objects at its peak (the composed nodes, the data, the plan),
    all freed by reference counting but a dozen in a cycle (a closure, ~4 KB): at the default the
    collector ran once a spec and found only those, ~4% of a lint; at 20,000 it runs every ~1,500 specs.
    """
    was = gc.get_threshold()
    gc.set_threshold(threshold, *was[1:])
    try:
        yield
    finally:
        gc.set_threshold(*was)
