"""`mlspec rollout status|advance|rollback MODEL --repo DIR`: click parses, compiler.rollout.engine acts.

Exit codes of `advance`: 0 advanced (or nothing left to advance), 1 the gate failed (and the rollback was
committed when a rollbackOn monitor fired), 2 errors (usage, git, lock, Prometheus unreachable).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

_COMMON: list[Callable[[Any], Any]] = [
    click.argument("model"),
    click.option("--repo", "repo_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
                 help="The deployment repository (a git working tree)."),
    click.option("--env", "environment", default=None,
                 help="Environment (default: the spec's rollout environment, usually production)."),
    click.option("--prometheus", default=None, envvar="MLSPEC_PROMETHEUS_URL",
                 help="Prometheus base URL for the gate, e.g. http://prometheus:9090."),
    click.option("--specs", "specs", multiple=True, type=click.Path(path_type=Path),
                 help="Spec files or directories (default: the project's specs/); repeatable."),
]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(_COMMON):
        func = decorator(func)
    return func


def _options(model: str, repo_dir: Path, environment: str | None, prometheus: str | None,
             specs: tuple[Path, ...], **extra: Any) -> Any:
    from compiler.rollout.engine import Options

    return Options(model=model, repo=repo_dir, environment=environment, prometheus=prometheus,
                   specs=list(specs) or None, **extra)


def _guarded(call: Callable[[], Any]) -> Any:
    """Run `call`; known failures are exit 2 with one line, not a traceback."""
    from compiler.errors import MlspecError, fail

    try:
        return call()
    except MlspecError as exc:
        fail(exc)


def _finish(result: Any) -> None:
    for line in result.lines:
        click.echo(line, err=True)
    sys.exit(result.code)


_PUSH = click.option("--push/--no-push", default=None,
                     help="Push the commit (default: when the branch tracks a remote branch).")
_REMOTE = click.option("--remote", default="origin", show_default=True)
_LOCK = click.option("--lock-timeout", type=float, default=60.0, show_default=True,
                     help="Seconds to wait for another mlspec run on the repository.")


@click.group("rollout")
def rollout_command() -> None:
    """Progressive rollout as GitOps commits, gated by Prometheus (docs/rollout.md)."""


@rollout_command.command("status")
@_common
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status_command(fmt: str, **kwargs: Any) -> None:
    """Print the live stage, version, next stage and (with --prometheus) the gate."""
    from compiler.rollout.engine import status

    data = _guarded(lambda: status(_options(**kwargs)))
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        sys.exit(0)
    hold = f"held {data['held_seconds']:.0f}s of {data['hold_seconds']}s"
    restarted = " (new version: starts at the first stage)" if data["restarted"] else ""
    click.echo(f"{data['model']} {data['version']} in {data['environment']}: stage {data['stage']}{restarted}, "
               f"since {data['since']}, {hold}")
    click.echo(f"stages: {' -> '.join(data['stages'])}; next: {data['next'] or '(none)'}")
    if "gate" in data:
        click.echo(f"gate: {'passes' if data['gate']['passed'] else 'does not pass'}")
        for check in data["gate"]["checks"]:
            click.echo(f"  {'ok  ' if check['passed'] else 'FAIL'} {check['check']}: {check['detail']}")
    sys.exit(0)


@rollout_command.command("advance")
@_common
@click.option("--wait", is_flag=True, help="Hold the stage and re-check until the gate passes, fails or times out.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Seconds --wait may take (default: the stage's hold plus 30 minutes).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds between checks with --wait.")
@_PUSH
@_REMOTE
@_LOCK
def advance_command(wait: bool, timeout: float | None, interval: float, push: bool | None, remote: str,
                    lock_timeout: float, **kwargs: Any) -> None:
    """Commit the next rollout stage once the gate passes; roll back when a rollbackOn monitor fires."""
    from compiler.rollout.engine import advance

    def act() -> Any:
        opts = _options(**kwargs, push=push, remote=remote, lock_timeout=lock_timeout)
        return advance(opts, wait=wait, timeout=timeout, interval=interval)

    _finish(_guarded(act))


@rollout_command.command("rollback")
@_common
@click.option("--reason", default="manual rollback", show_default=True, help="Why: recorded in the audit log.")
@_PUSH
@_REMOTE
@_LOCK
def rollback_command(reason: str, push: bool | None, remote: str, lock_timeout: float, **kwargs: Any) -> None:
    """Commit the rollback form (the previous version takes all traffic) in one step."""
    from compiler.rollout.engine import rollback

    _finish(_guarded(lambda: rollback(_options(**kwargs, push=push, remote=remote, lock_timeout=lock_timeout),
                                      reason)))
