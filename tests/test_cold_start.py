"""A lint imports what checking needs and not what rendering needs: start-up time is a budget
(issue 14: one spec, cold CLI, <= 0.3 s), and the render modules of the targets were a large part of it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from golden import REPO

# Modules only a render uses; a lint that imports one pays for it on every run.
RENDER_ONLY = ["targets.gitops.argocd", "targets.gitops.flux", "targets.gitops.layout",
               "targets.governance.card", "targets.governance.annex_iv", "targets.kserve.layout",
               "targets.kubeflow.ir", "targets.kubeflow.schedule", "targets.kubeflow.native",
               "targets.prometheus.openslo", "targets.prometheus.unittests",
               # the pipeline's render half: patches with their field paths, the serializer and its emitters
               "compiler.render.patches", "compiler.render.fieldpaths", "compiler.render.serialize",
               "compiler.render.canonical_yaml", "compiler.render.yaml_reference", "compiler.render.pretty_json",
               "compiler.render.identity",
               # the CI target's workflow files
               "targets.ci.github", "targets.ci.gitlab", "targets.ci.review", "targets.ci.jobs"]


def test_a_cold_lint_imports_no_render_module() -> None:
    code = ("import sys\nfrom compiler.cli import main\ntry:\n    main(['lint', 'specs/fraud-detector.yaml'])\n"
            f"finally:\n    print(sorted(m for m in {RENDER_ONLY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO,
                          env={**os.environ, "MLSPEC_INCREMENTAL": "0"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# Libraries a lint never needs (templates, schemas of other tools, clusters, git, JSON patches, HTTP, pools):
# each costs milliseconds to tens of milliseconds of every start. croniter (with dateutil) checks a schedule
# other than plain numbers and stars (compiler.language.units.is_cron), so only a spec with a schedule may load it.
HEAVY = ["jinja2", "jsonschema", "kubernetes", "git", "ruamel", "jsonpatch", "urllib.request", "http.client",
         "requests", "multiprocessing", "concurrent.futures", "asyncio", "ssl", "numpy"]
SCHEDULE_ONLY = ["croniter", "dateutil"]


@pytest.mark.parametrize(("spec", "allowed"), [("specs/fraud-detector.yaml", SCHEDULE_ONLY),
                                               ("specs/shelf-vision-edge.yaml", [])])
def test_a_cold_lint_imports_no_library_it_does_not_need(spec: str, allowed: list[str], tmp_path: Path) -> None:
    assert ("schedule:" in (REPO / spec).read_text()) == bool(allowed)  # the two cases: with and without
    unwanted = [m for m in [*HEAVY, *SCHEDULE_ONLY] if m not in allowed]
    code = (f"import sys\nfrom compiler.cli import main\ntry:\n    main(['lint', {spec!r}])\n"
            f"finally:\n    print(sorted(m for m in {unwanted!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO,
                          env={**os.environ, "MLSPEC_CACHE_DIR": str(tmp_path)})  # an empty lint cache
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_importing_the_spec_language_builds_no_validator() -> None:
    """pydantic builds a model's validator on first use (defer_build): at import, building one per class
    cost every CLI start ~30 ms, lint of one spec included."""
    code = ("import pydantic\nimport compiler.language.spec as s\n"
            "print(sorted(n for n, v in vars(s).items() if isinstance(v, type) and issubclass(v, pydantic.BaseModel)\n"
            "             and v.__pydantic_complete__))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_cold_lint_runs_every_rule() -> None:
    """Rules register when their module is imported (compiler.render.patches has two): a lint in a fresh process
    that left one unimported would pass a malformed patch. In-process tests import everything anyway."""
    done = subprocess.run([sys.executable, "-m", "compiler", "lint", "tests/invalid/patch-malformed.yaml"],
                          capture_output=True, text=True, check=False, cwd=REPO,
                          env={**os.environ, "MLSPEC_INCREMENTAL": "0"})
    assert done.returncode == 1
    assert {"MLS730", "MLS732", "MLS734"} <= set(re.findall(r"error (MLS\d+)", done.stderr)), done.stderr


# The modules of pydantic models every start creates (the spec language, mlspec.yaml, the targets' settings).
MODEL_MODULES = ["compiler.language.spec", "compiler.language.value_types", "compiler.language.monitor_spec",
                 "compiler.language.serving_spec", "compiler.language.patch_spec", "compiler.language.project",
                 "targets.ci.settings", "targets.gitops.settings", "targets.governance.settings",
                 "targets.kserve.settings", "targets.kubeflow.settings", "targets.prometheus.settings"]


def test_model_annotations_are_not_postponed() -> None:
    """With `from __future__ import annotations` pydantic evaluates every field's annotation from its text
    when the class is created: a third of creating these models, on every start."""
    import importlib

    import pydantic

    postponed = []
    for name in MODEL_MODULES:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, type) and issubclass(value, pydantic.BaseModel) and value.__module__ == name:
                hints = vars(value).get("__annotations__", {})
                postponed += [f"{name}.{value.__name__}.{f}" for f, hint in hints.items() if isinstance(hint, str)]
    assert postponed == []
