"""compiler.pipeline._run_all: before the pool forks, the first spec renders in this process (what a spec
builds on first use is inherited by the workers), and what is alive then is frozen for the pool's run
only. The results are those of a render without a pool, in input order."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from compiler import pipeline
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import generate


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    generate(6, tmp_path / "specs")
    return tmp_path


def _rendered(results: list[pipeline.SpecResult]) -> list[tuple[str, dict[str, bytes]]]:
    return [(r.rel_path, dict(r.files)) for r in results]


def test_the_first_spec_renders_here_and_the_rest_in_the_pool(project: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    context, work, _ = pipeline.prepare([project / "specs"], root=project)
    serial = pipeline._run_all(work, context, True, 1)
    here: list[str] = []  # appended to in this process only: a forked worker appends to its own copy
    real = pipeline._one
    parent = os.getpid()

    def one(item: tuple[str, str, Path], *args: object) -> pipeline.SpecResult:
        if os.getpid() == parent:
            here.append(item[1])
        return real(item, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_one", one)
    seen: list[str] = []
    frozen: list[int] = []

    class Sink:
        def rendered(self, result: pipeline.SpecResult) -> None:
            pass

        def __call__(self, result: pipeline.SpecResult) -> None:
            seen.append(result.rel_path)
            frozen.append(gc.get_freeze_count())

    pooled = pipeline._run_all(work, context, True, 2, parallel_threshold=2, sink=Sink())
    assert here == [work[0][1]]
    assert frozen[0] == 0  # the first spec's result arrives before the start-up's objects are frozen
    assert all(count > 0 for count in frozen[1:])  # the pool ran with them frozen
    assert gc.get_freeze_count() == 0  # and only for the pool's run
    assert seen == [rel for _, rel, _ in work]  # the sink sees every spec, in input order
    assert _rendered(pooled) == _rendered(serial)
