"""targets.ci.jobs.build_jobs remembers the last model's jobs (its workflow and its repository share both
read them where the spec renders): the same plan and settings get the same jobs without building them
again, and any other plan or settings get their own."""

from __future__ import annotations

import dataclasses

import pytest

from compiler.pipeline import run
from golden import SPECS
from targets.ci import jobs
from targets.ci.settings import CiSettings


def test_the_last_models_jobs_are_reused_only_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run([SPECS], render=False, jobs=1)
    plans = [s.plan for s in result.specs if s.plan is not None]
    assert len(plans) >= 2
    settings = CiSettings()
    built: list[object] = []
    real = jobs._build_jobs

    def counting(plan: object, chosen: CiSettings) -> list[jobs.Job]:
        built.append(plan)
        return real(plan, chosen)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "_LAST", None)
    monkeypatch.setattr(jobs, "_build_jobs", counting)
    first = jobs.build_jobs(plans[0], settings)
    again = jobs.build_jobs(plans[0], settings)
    assert again == first
    assert again is not first  # a list of its own: a caller may change it
    assert built == [plans[0]]
    assert jobs.build_jobs(plans[1], settings) == real(plans[1], settings)
    other = CiSettings(testCommand="make check")
    assert jobs.build_jobs(plans[1], other) == real(plans[1], other) != real(plans[1], settings)
    renamed = dataclasses.replace(plans[1], name="renamed")  # an equal-looking plan is another object
    assert jobs.build_jobs(renamed, other) == real(renamed, other)
    assert len(built) == 4
