"""What a spec's cached render depends on (compiler.output.incremental), and whether its files are still as written.

A spec's result is a function of its bytes and display name, the run's context (compiler and target
code, mlspec.yaml, target settings, the output directory) and its model's rollout state.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path

from compiler import __version__
from compiler.output import stamp
from compiler.pipeline import Context
from compiler.planning.plan import ActiveStage

Stat = stamp.Stat


def context_key(context: Context, out: Path, code: stamp.Code | None = None) -> str:
    """The key of everything a cached spec depends on besides itself. `code`: stamp.installed_code, when the
    run has it already; the code is part of the key so an edited target invalidates the cache even in an
    editable install, where the version number does not change."""
    project_file = context.root / "mlspec.yaml"
    try:
        project_bytes = project_file.read_bytes()
    except OSError:
        project_bytes = b""
    parts = [
        __version__, sys.version, str(context.root), str(out.resolve()), project_bytes.hex(),
        repr(context.project), [(t.name, type(t).__module__, repr(s)) for t, s in context.targets],
        repr(context.diagnostics), (code or stamp.installed_code(context.targets))[1],
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def state_digest(state: Mapping[str, Mapping[str, ActiveStage]], name: str | None) -> str:
    if name is None:
        return ""
    return repr(sorted((env, s.version, s.stage) for env, s in state.get(name, {}).items()))


def intact(out: Path, files: Mapping[str, str], stats: dict[str, Stat], touched: list[bool]) -> bool:
    """Every file (path -> sha256) is on disk as written: same stat, or (stat changed, e.g. touched) the
    same bytes."""
    base = str(out)
    for rel, sha256 in files.items():
        found = stamp.stat_of(f"{base}/{rel}")
        if found is None:
            return False
        if found == stats.get(rel):
            continue
        try:
            data = Path(base, rel).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        stats[rel] = found
        touched[0] = True
    return True


