"""A few changed specs rendered in a forked child while this process loads the rest of the cache
(compiler.output.incremental). After one spec of 1,000 changed, rendering it (its first use of the
targets' modules, templates and validators included) and loading the cache's shards and checking the
unchanged specs' output files were each about a fifth of the run, one after the other, on a machine with
cores to spare. The child renders exactly what this process would (the same `_run_all`, serially) and
sends the results back pickled, as the render pool's workers do; when it fails in any way, this process
renders them itself."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable

from compiler import forked
from compiler.language.specfiles import Work
from compiler.pipeline import PARALLEL_THRESHOLD, Context, Sink, SpecResult, _run_all


def worth_it(todo: list[Work], jobs: int | None, cached: int) -> bool:
    """Fork when the specs would render serially anyway (fewer than the pool takes), more than one process
    may run, and there is a cache to load meanwhile."""
    return (hasattr(os, "fork") and 0 < len(todo) < PARALLEL_THRESHOLD and (jobs is None or jobs > 1)
            and cached > 0)


def start(todo: list[Work], context: Context, sink: Sink | None) -> Callable[[], list[SpecResult]]:
    """Start rendering `todo` in a forked child; the returned call waits for the results (in input order),
    each given to `sink` here, as `_run_all` gives them."""
    wait = forked.start(lambda: pickle.dumps(_run_all(todo, context, True, 1), protocol=pickle.HIGHEST_PROTOCOL))

    def results() -> list[SpecResult]:
        data = wait()
        if data is not None:
            try:
                found = pickle.loads(data)  # our own child's, through a pipe only it writes
            except Exception:
                found = None
            if isinstance(found, list) and [r.rel_path for r in found] == [item[1] for item in todo]:
                done: list[SpecResult] = found
                for result in done:
                    if sink is not None:
                        sink.rendered(result)
                        sink(result)
                return done
        return _run_all(todo, context, True, 1, sink=sink)

    return results
