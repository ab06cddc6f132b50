"""The command line: click parses arguments and calls the library; nothing else lives here.

Exit codes: 0 clean (warnings allowed), 1 findings or differences, 2 usage, 3 internal error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from compiler import __version__
from compiler.diagnostics import Diagnostic, format_diagnostics, has_errors

FORMATS = click.Choice(["text", "json", "github"])


def _report(diags: Sequence[Diagnostic], fmt: str) -> None:
    text = format_diagnostics(diags, fmt)
    if text:
        click.echo(text, err=fmt == "text")


def _exit_for(diags: Sequence[Diagnostic]) -> int:
    if any(d.code == "MLS504" for d in diags):
        return 3
    return 1 if has_errors(diags) else 0


# Commands that live with their feature, imported only when used: start-up time is a budget
# (one-spec lint in <= 0.3 s) and gitpython alone costs ~75 ms.
LAZY_COMMANDS = {
    "gate": "compiler.gate:gate_command",
    "commit": "compiler.deploy.cli:commit_command",
    "diff": "compiler.deploy.cli:diff_command",
    "drift": "compiler.deploy.cli:drift_command",
    "rollout": "compiler.rollout.cli:rollout_command",
    # Verbs the rendered CI jobs and retraining call: a public contract, unlike module paths.
    "data": "targets.ci.datacheck:data_command",
    "kfp": "targets.kubeflow.cli:kfp_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            try:
                command = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                return None  # that feature is not part of this installation
            return command if isinstance(command, click.Command) else None
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlspec")
def cli() -> None:
    """mlspec: compile one reviewed spec per ML model into pipelines, serving, CI, alerts and governance."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--jobs", type=int, default=None, help="Worker processes (default: one per core).")
def lint(paths: tuple[Path, ...], fmt: str, jobs: int | None) -> None:
    """Check specs (default: the project's specs/) and report every problem at once."""
    from compiler.pipeline import run

    result = run(list(paths) or None, jobs=jobs, keep_plans=False)
    diags = result.diagnostics
    _report(diags, fmt)
    if fmt == "text" and not diags:
        click.echo(f"{len(result.specs)} spec(s) clean", err=True)
    sys.exit(_exit_for(diags))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the output is out of date.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--jobs", type=int, default=None)
def render(paths: tuple[Path, ...], out: Path, check: bool, fmt: str, jobs: int | None) -> None:
    """Render specs into OUT. Nothing is written when any spec has errors."""
    from compiler.deploy.lock import LockBusy
    from compiler.output import render_to
    from compiler.rollout.state import StateError

    try:
        result, change = render_to(out, list(paths) or None, check=check, jobs=jobs)
    except (LockBusy, StateError) as exc:
        click.echo(f"mlspec: {exc}", err=True)
        sys.exit(2)
    diags = result.diagnostics
    _report(diags, fmt)
    if change is None:
        sys.exit(_exit_for(diags) or 1)
    verb = "would change" if check else "wrote"
    for rel in change.added:
        click.echo(f"  added    {rel}", err=True)
    for rel in change.changed:
        click.echo(f"  changed  {rel}", err=True)
    for rel in change.removed:
        click.echo(f"  removed  {rel}", err=True)
    click.echo(f"{len(result.specs)} spec(s): {verb} {len(change.added)} added, {len(change.changed)} changed, "
               f"{len(change.removed)} removed, {change.unchanged} unchanged in {out}", err=True)
    if check and not change.empty:
        sys.exit(1)
    sys.exit(_exit_for(diags))


@cli.command()
def targets() -> None:
    """List the installed targets."""
    from compiler.targets import discover

    registry = discover()
    for name in registry.names():
        target = registry.targets[name]
        click.echo(f"{name:12} {target.description}")
    _report(registry.problems, "text")
    sys.exit(1 if registry.problems else 0)


@cli.command()
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Write to a file.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of the spec."""
    from compiler.jsonschema_export import spec_schema_text

    text = spec_schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)


@cli.command()
@click.argument("name")
@click.option("--team", default="my-team", show_default=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("specs"), show_default=True)
def init(name: str, team: str, directory: Path) -> None:
    """Write a commented starter spec NAME.yaml that lints clean."""
    from compiler.starter import starter_spec
    from compiler.units import is_dns_label

    for value, what in ((name, "NAME"), (team, "--team")):
        if not is_dns_label(value):
            raise click.UsageError(f"{what} {value!r} must be a DNS-1123 label (lowercase letters, digits, '-')")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    if path.exists():
        raise click.UsageError(f"{path} exists; choose another name")
    path.write_text(starter_spec(name, team))
    click.echo(f"wrote {path}; next: mlspec lint {path}", err=True)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--crds", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              envvar="MLSPEC_CRDS", help="CRDs to validate against, e.g. exported from your cluster.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def validate(directory: Path, crds: Path | None, fmt: str) -> None:
    """Validate every file of a rendered tree with its consumer's own validator (needs mlspec[validate])."""
    from collections import Counter

    from compiler.validation import judge_tree

    diags, judged = judge_tree(directory, crds)
    _report(diags, fmt)
    if fmt == "text":
        # Which validator judged what: "not judged" must never pass for "valid".
        for how, count in sorted(Counter(judged.values()).items()):
            click.echo(f"  {count:4d} file(s): {how}", err=True)
        if not diags:
            click.echo(f"{directory}: valid", err=True)
    sys.exit(1 if has_errors(diags) else 0)


def main(argv: Sequence[str] | None = None) -> Any:
    try:
        return cli.main(args=list(argv) if argv is not None else None, prog_name="mlspec")
    except SystemExit:
        raise
    except Exception as exc:  # a bug in mlspec, not in the input: say so instead of a bare traceback
        import traceback

        traceback.print_exc()
        click.echo(f"mlspec: internal error ({type(exc).__name__}); please report it", err=True)
        sys.exit(3)
