"""Progress of a long run, for people at a terminal.

The pipeline reports each finished spec here; by default nobody listens. The command line installs a
listener (a progress bar on standard error) only when standard error is a terminal and the run is not
in CI, so pipes, log files and CI logs never get bar noise. One place, so the library API stays
silent and `_run_all` needs no extra parameter through every caller.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[int, int], None]  # (specs done, specs in this batch)
_listener: Listener | None = None


def step(done: int, total: int) -> None:
    if _listener is not None:
        _listener(done, total)


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def wanted(stream: object = None) -> bool:
    """A bar helps a person watching a terminal; in CI or on a pipe it is only noise."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("CI", "").lower() != "true"


@contextmanager
def terminal_bar(label: str) -> Iterator[None]:
    """A click progress bar on standard error for the specs the pipeline works through."""
    import click

    if not wanted():
        yield
        return
    state: dict[str, object] = {}

    def listener(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None or state.get("total") != total:
            if bar is not None:
                bar.render_finish()  # type: ignore[attr-defined]
            bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            bar.render_progress()
            state.update(bar=bar, total=total, at=0)
        bar.update(done - int(state["at"]))  # type: ignore[attr-defined,call-overload]
        state["at"] = done

    with listening(listener):
        try:
            yield
        finally:
            bar = state.get("bar")
            if bar is not None:
                bar.render_finish()  # type: ignore[attr-defined]
