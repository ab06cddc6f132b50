"""The unchanged specs' output files checked by stat in a forked child while this process renders the
changed ones (compiler.output.incremental): after one spec of 1,000 changed, ~31k stats were a tenth of
the run, and a thread cannot overlap them with rendering (the loop around the syscalls holds the
interpreter lock)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from compiler import forked
from compiler.output import stamp

# Fewer output files than this are checked in this process: forking costs more than their stats.
THRESHOLD = 2_000


def worth_it(outputs: Mapping[str, Mapping[str, str]]) -> bool:
    return hasattr(os, "fork") and sum(map(len, outputs.values())) >= THRESHOLD


def changed(out: Path, outputs: Mapping[str, Mapping[str, str]], stats: Mapping[str, stamp.Stat]) -> set[str]:
    """The specs (spec path -> its output files) with a file whose stat is not the recorded one, checked here."""
    base = str(out)
    return {rel for rel, files in outputs.items()
            if any(stamp.stat_of(f"{base}/{path}") != stats.get(path) for path in files)}


def start(out: Path, outputs: Mapping[str, Mapping[str, str]],
          stats: Mapping[str, stamp.Stat]) -> Callable[[], set[str]]:
    """Start checking, in a forked child, which specs (spec path -> its output files) have a file whose
    stat is not the recorded one; the returned call waits for the answer. When the child fails, every
    spec is a suspect (the caller checks each by its bytes)."""
    wait = forked.start(lambda: "\0".join(changed(out, outputs, stats)).encode())

    def answer() -> set[str]:
        data = wait()
        if data is None:
            return set(outputs)
        return {rel for rel in data.decode().split("\0") if rel}

    return answer
