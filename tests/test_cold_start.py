"""A lint imports what checking needs and not what rendering needs: start-up time is a budget
(issue 14: one spec, cold CLI, <= 0.3 s), and the render modules of the targets were a large part of it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from golden import REPO

# Modules only a render uses; a lint that imports one pays for it on every run.
RENDER_ONLY = ["targets.gitops.argocd", "targets.gitops.flux", "targets.gitops.layout",
               "targets.governance.card", "targets.governance.annex_iv", "targets.kserve.layout",
               "targets.kubeflow.ir", "targets.kubeflow.schedule", "targets.kubeflow.native",
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
