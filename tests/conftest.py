from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from compiler.render.plugins import Registry, installed_targets


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden/ from the current output (then review the diff before committing)")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty render and lint cache of its own (compiler.output.stamp): none reuses
    results another test (or a monkeypatched run) left, and none writes into the repository."""
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path_factory.mktemp("mlspec-cache")))


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def use_targets() -> Iterator[Callable[[Registry], Registry]]:
    """`use_targets(registry)`: until the test ends, every command sees `registry` as the installed
    targets (compiler.render.plugins.installed_targets), instead of monkeypatching a module's `discover`."""
    with ExitStack() as stack:
        yield lambda registry: stack.enter_context(installed_targets(registry))


@pytest.fixture
def own_code(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module of the code every run executes (compiler.output.stamp.code_packages), private to this test:
    editing it is editing the installed code. Tests used to bump the mtime of a real source file
    (compiler/output/stamp.py), which for that moment changed the code of every test running beside
    them under `pytest -n 2`, and one expecting a cache hit there saw a miss. Returns the module's file."""
    from compiler.output import stamp

    root = tmp_path_factory.mktemp("code")
    package = root / "mlspec_own_code"
    package.mkdir()
    (package / "__init__.py").write_text('"""Stands for the installed code in a test (tests/conftest.py)."""\n')
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, package.name, raising=False)  # an earlier test's, in its own directory
    importlib.import_module(package.name)
    packages = stamp.code_packages
    monkeypatch.setattr(stamp, "code_packages", lambda targets: sorted({*packages(targets), package.name}))
    return package / "__init__.py"
