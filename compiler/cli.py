"""The command line: click parses arguments and calls the library; nothing else lives here.

Exit codes: 0 clean (warnings allowed), 1 findings or differences, 2 usage or the environment (disk full,
read-only or unreadable paths), 3 internal error; the exceptions that end a command map to them in
compiler/errors.py.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from compiler import __version__
from compiler.diagnostics import Diagnostic, format_diagnostics, has_errors
from compiler.errors import INTERNAL, InternalError, MlspecError, exit_code, fail

FORMATS = click.Choice(["text", "json", "github", "gitlab"])


def _report(diags: Sequence[Diagnostic], fmt: str) -> None:
    text = format_diagnostics(diags, fmt)
    if text:
        click.echo(text, err=fmt == "text")


def _exit_for(diags: Sequence[Diagnostic]) -> int:
    if any(d.code == "MLS504" for d in diags):
        return 3
    if any(d.code in ENVIRONMENT_CODES for d in diags):
        return 2  # the machine, not the spec: a file or directory this user cannot read
    return 1 if has_errors(diags) else 0


# Diagnostics that report the environment rather than the input (compiler.codes).
ENVIRONMENT_CODES = frozenset({"MLS014"})


# Commands that live with their feature, imported only when used: start-up time is a budget
# (one-spec lint in <= 0.3 s) and gitpython alone costs ~75 ms.
LAZY_COMMANDS = {
    "gate": "compiler.evaluation.verdict:gate_command",
    "commit": "compiler.deploy.cli:commit_command",
    "diff": "compiler.deploy.cli:diff_command",
    "drift": "compiler.deploy.cli:drift_command",
    "rollout": "compiler.rollout.cli:rollout_command",
    "comment": "compiler.deploy.review_comment:comment_command",
    # Verbs the rendered CI jobs and retraining call: a public contract, unlike module paths.
    "data": "targets.ci.datacheck:data_command",
    "kfp": "targets.kubeflow.cli:kfp_command",
    "verify": "compiler.live.verify:verify_command",
    "workflows": "compiler.output.workflows:workflows_command",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = LAZY_COMMANDS if lazy_commands is None else lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            import importlib

            module, _, attr = self.lazy_commands[cmd_name].partition(":")
            # These modules ship with mlspec: one that does not import (or lacks its command) is a bug
            # in the installation, not an unknown command; "No such command" (exit 2) would hide it.
            try:
                command = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise InternalError(f"command {cmd_name!r} cannot be loaded from {module}: {exc}") from exc
            if not isinstance(command, click.Command):
                raise InternalError(f"command {cmd_name!r}: {self.lazy_commands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        # Where exit codes are decided for every verb: a machine that refuses (disk full, read-only,
        # permission denied) is the user's environment, exit 2 with one line, never a traceback.
        from compiler.errors import EnvironmentFault

        try:
            return super().invoke(ctx)
        except EnvironmentFault as exc:
            fault = exc
        except OSError as exc:
            fault = EnvironmentFault.of("access", exc)
        fail(fault)


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
    from compiler.output.lint_cache import lint as lint_specs

    result = lint_specs(list(paths) or None, jobs=jobs)
    diags = result.diagnostics
    _report(diags, fmt)
    if fmt == "text" and not diags:
        click.echo(f"{result.specs} spec(s) clean", err=True)
    sys.exit(_exit_for(diags))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Output directory; `-` streams the Kubernetes objects to stdout as multi-document YAML.")
@click.option("--app", default=None, help="With --out -: only this Argo CD Application's or Flux Kustomization's "
                                          "objects (docs/deploy.md).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the output is out of date.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--jobs", type=int, default=None)
@click.option("--verbose", "-v", is_flag=True, help="List every added, changed and removed file.")
def render(paths: tuple[Path, ...], out: Path, app: str | None, check: bool, fmt: str, jobs: int | None,
           verbose: bool) -> None:
    """Render specs into OUT. Nothing is written when any spec has errors.

    Prints a one-line summary (the file list with -v); a progress bar appears only on a terminal.
    """
    if str(out) == "-":
        from compiler.output.stream import render_stream

        if check:
            raise click.UsageError("--check compares a directory; it cannot be used with --out -")
        text, streamed = render_stream(list(paths) or None, app, jobs)
        text_diags = format_diagnostics(streamed.diagnostics, fmt)
        if text_diags:
            click.echo(text_diags, err=True)  # stdout carries only the objects
        if text is None:
            sys.exit(_exit_for(streamed.diagnostics) or 1)
        sys.stdout.write(text)
        sys.exit(0)
    if app is not None:
        raise click.UsageError("--app selects what --out - streams")
    if not paths:
        from compiler.output.stamp import unchanged_render

        stamp = unchanged_render(out)
        if stamp is not None:  # nothing changed since the last render: its report, from stats alone
            _report(stamp.diagnostics, fmt)
            click.echo(f"{stamp.specs} spec(s): {'would change' if check else 'wrote'} 0 added, 0 changed, "
                       f"0 removed, {stamp.unchanged} unchanged in {out}", err=True)
            sys.exit(_exit_for(stamp.diagnostics))
    from compiler.output.tree import render_to
    from compiler.progress import terminal_bar

    try:
        with terminal_bar("rendering specs"):
            result, change = render_to(out, list(paths) or None, check=check, jobs=jobs)
    except MlspecError as exc:
        fail(exc)
    diags = result.diagnostics
    _report(diags, fmt)
    if change is None:
        sys.exit(_exit_for(diags) or 1)
    verb = "would change" if check else "wrote"
    if verbose or check:  # --check lists what is out of date: that list is the point of it
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
    from compiler.render.plugins import discover

    registry = discover()
    for name in registry.names():
        target = registry.targets[name]
        click.echo(f"{name:12} {target.description}")
    _report(registry.problems, "text")
    sys.exit(1 if registry.problems else 0)


@cli.command()
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Write to a file.")
@click.option("--project", is_flag=True, help="The schema of mlspec.yaml instead of the spec's.")
@click.option("--sync", is_flag=True, help="Write both schemas into the spec repository's .mlspec/schemas/.")
@click.option("--check", is_flag=True, help="Exit 1 when .mlspec/schemas/ is missing or outdated.")
def schema(output: Path | None, project: bool, sync: bool, check: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of the spec, or keep the repository's copies current."""
    from compiler.language.jsonschema_export import project_schema_text, spec_schema_text, stale_schemas, sync_schemas
    from compiler.output.writer import write_file

    if sync or check:
        root = _spec_repository_root(Path.cwd())
        if check:
            stale = stale_schemas(root)
            for path in stale:
                click.echo(f"{path}: missing or outdated; run `mlspec schema --sync`", err=True)
            sys.exit(1 if stale else 0)
        for path in sync_schemas(root, write_file):
            click.echo(f"wrote {path}", err=True)
        return
    text = project_schema_text() if project else spec_schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        write_file(output, text.encode())


def _spec_repository_root(start: Path) -> Path:
    """The nearest ancestor holding mlspec.yaml or .git; the current directory when there is none."""
    from compiler.language.specfiles import PROJECT_FILE, find_root

    root = find_root(start)
    return root if (root / PROJECT_FILE).is_file() or (root / ".git").exists() else Path.cwd()


@cli.command()
@click.argument("name")
@click.option("--team", default="my-team", show_default=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("specs"), show_default=True)
def init(name: str, team: str, directory: Path) -> None:
    """Write a commented starter spec NAME.yaml that lints clean, the schemas editors read and the
    CI workflows (`mlspec workflows`)."""
    from compiler.language.jsonschema_export import modeline, sync_schemas
    from compiler.language.starter import starter_spec
    from compiler.language.units import is_dns_label

    for value, what in ((name, "NAME"), (team, "--team")):
        if not is_dns_label(value):
            raise click.UsageError(f"{what} {value!r} must be a DNS-1123 label (lowercase letters, digits, '-')")
    from compiler.errors import EnvironmentFault
    from compiler.output.writer import write_file

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentFault("create directory", directory, exc) from exc
    path = directory / f"{name}.yaml"
    if path.exists():
        raise click.UsageError(f"{path} exists; choose another name")
    root = _spec_repository_root(directory.resolve())
    written = sync_schemas(root, write_file)
    write_file(path, (modeline(path.resolve(), root) + starter_spec(name, team)).encode())
    for schema_path in written:
        click.echo(f"wrote {schema_path}", err=True)
    click.echo(f"wrote {path}; next: mlspec lint {path}", err=True)
    # The model's CI workflows run in this (the spec) repository: written here, never copied by hand.
    from compiler.output.workflows import sync

    if sync(root) != 0:  # another spec has errors; the starter itself lints clean
        click.echo("the CI workflows were not written: fix the errors above, then run `mlspec workflows`", err=True)


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


def main(argv: Sequence[str] | None = None, *, group: click.Group | None = None) -> Any:
    """Run the CLI (`group`: another command group, for tests) and map exceptions to exit codes.

    Without `argv` this process is the `mlspec` command (the console script, `python -m compiler`): once
    the command is done the process ends without freeing its objects one by one (compiler.process_exit).
    """
    try:
        return _run(argv, group)
    except SystemExit as done:
        if argv is None and group is None:
            from compiler.process_exit import end_process

            end_process(done.code)
        raise


def _run(argv: Sequence[str] | None, group: click.Group | None) -> Any:
    try:
        return (group or cli).main(args=list(argv) if argv is not None else None, prog_name="mlspec")
    except SystemExit:
        raise
    except MlspecError as exc:
        if exit_code(exc) == INTERNAL:
            _internal(exc)
        fail(exc)
    except Exception as exc:  # a bug in mlspec, not in the input: say so instead of a bare traceback
        _internal(exc)


def _internal(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(exc)
    click.echo(f"mlspec: internal error ({type(exc).__name__}); please report it", err=True)
    sys.exit(INTERNAL)
