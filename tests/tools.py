"""Helpers shared by the test suite for finding and running the real validators.

A missing tool or data folder skips a test on a laptop but fails it in CI (env `CI=true`): CI exists to
run those checks, so a silent skip there would be a green build that checked nothing.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFAULT_TIMEOUT = 120.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required checks may not be skipped)", pytrace=False)
    pytest.skip(reason)


def crds_dir() -> Path | None:
    """The CRD folder: `$MLSPEC_CRDS`, else `../shared/crds` beside the repository, else None."""
    env = os.environ.get("MLSPEC_CRDS")
    if env:
        return Path(env)
    beside = REPO_ROOT.parent / "shared" / "crds"
    return beside if beside.is_dir() else None


def require_crds() -> Path:
    found = crds_dir()
    if found is None:
        unavailable("no CRD folder: set MLSPEC_CRDS or put the shared folder beside the repository")
    if not found.is_dir():
        unavailable(f"MLSPEC_CRDS={found} is not a directory")
    return found


def find_tool(name: str) -> str | None:
    """`name` from the interpreter's own bin directory first (pip-installed tools live in the venv,
    which need not be on PATH), then from PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        unavailable(
            f"{name} is not installed (promtool/amtool: apt-get install prometheus "
            f"prometheus-alertmanager; actionlint/check-jsonschema: pip install 'mlspec[validate]')"
        )
    return path


def require_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"Python module {name} is not installed (pip install 'mlspec[validate]')")


def run_tool(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a validator without a terminal or stdin and capture its output; never raises on exit code."""
    try:
        return subprocess.run(
            [os.fspath(a) for a in args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args[0]} did not finish within {timeout}s: {' '.join(map(str, args))}", pytrace=False)


def kustomize_build(directory: Path) -> list[dict[str, object]]:
    """`kustomize build DIR` with the real kustomize (Go, sigs.k8s.io/kustomize/api v0.21.3), through the
    shared library the `pykustomize` wheel ships. .ci/run installs it with --ignore-requires-python (the
    wheel declares Python >= 3.14 but its bindings are plain cffi and run on 3.11)."""
    try:
        import asyncio

        import pykustomize  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        unavailable("kustomize is not installed: pip install --no-deps --ignore-requires-python pykustomize==0.1.4")
    import yaml

    try:
        result = asyncio.run(pykustomize.build(str(directory)))
    except pykustomize.KustomizeError as exc:
        raise AssertionError(f"kustomize build {directory} failed: {exc}") from exc
    return [d for d in yaml.safe_load_all(result.yaml) if d is not None]
