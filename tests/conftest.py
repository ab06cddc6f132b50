from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

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
