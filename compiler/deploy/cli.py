"""`mlspec commit`, `mlspec diff`, `mlspec drift`: click parses, the library does the work.

Exit codes follow the CLI: 0 clean, 1 findings (differences, drift, refused commit, spec errors),
2 usage and git/environment errors, 3 internal errors. `diff` follows kubectl's contract (0 none,
1 differences, 2 errors).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from compiler.diagnostics import Diagnostic, format_diagnostics

_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def _diagnostics(diags: Sequence[Diagnostic]) -> None:
    """Errors in full; warnings only counted, since `mlspec lint` is where they are read."""
    errors = [d for d in diags if d.is_error]
    if errors:
        click.echo(format_diagnostics(errors, "text"), err=True)
    warnings = len(diags) - len(errors)
    if warnings:
        click.echo(f"({warnings} warning(s); run `mlspec lint` to read them)", err=True)


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"mlspec: {message}", err=True)
    sys.exit(code)


@click.command("commit")
@_PATHS
@click.option("--repo", "repo_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The deployment repository (a git working tree).")
@click.option("--branch", default=None, help="Commit on this branch (created from HEAD when missing).")
@click.option("--push", is_flag=True, help="Push the branch after committing.")
@click.option("--remote", default="origin", show_default=True, help="Remote for --push.")
@click.option("--force", is_flag=True, help="Overwrite hand-edited managed files.")
@click.option("--message", "-m", default=None, help="Commit subject and body (trailers are still added).")
@click.option("--lock-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for another mlspec run on the same repository.")
@click.option("--hold", "hold", multiple=True, metavar="ENV",
              help="Keep environment ENV as committed (e.g. production during a staging deploy); repeatable.")
def commit_command(paths: tuple[Path, ...], repo_dir: Path, branch: str | None, push: bool, remote: str,
                   force: bool, message: str | None, lock_timeout: float, hold: tuple[str, ...]) -> None:
    """Render specs into the deployment repository and commit what changed."""
    from compiler.deploy.commit import commit
    from compiler.errors import MlspecError, fail

    try:
        outcome = commit(repo_dir, list(paths) or None, branch=branch, push=push, remote=remote, force=force,
                         message=message, lock_timeout=lock_timeout, hold_environments=hold)
    except MlspecError as exc:
        fail(exc)
    _diagnostics(outcome.result.diagnostics)
    if outcome.status == "invalid":
        _fail("nothing written: fix the errors above", 1)
    if outcome.status == "refused" and outcome.drift.of("ledger"):
        click.echo(outcome.drift.to_text(), err=True)
        _fail(f"refusing to render from rollout records git history does not vouch for in {repo_dir} (--force does "
              "not override this); restore them from HEAD or revert the commit that changed them", 1)
    if outcome.status == "refused":
        click.echo(outcome.drift.to_text(), err=True)
        _fail(f"refusing to overwrite {len(outcome.drift.modified)} hand-edited file(s) in {repo_dir}; "
              "move the change into the spec, or rerun with --force to discard it", 1)
    if outcome.drift.items:
        click.echo(f"overwriting {len(outcome.drift.modified)} hand-edited file(s) (--force)", err=True)
    change = outcome.change
    if outcome.status == "committed":
        click.echo(f"committed {outcome.sha[:12] if outcome.sha else '?'}: {len(change.added)} added, "
                   f"{len(change.changed)} changed, {len(change.removed)} removed in {repo_dir}", err=True)
    else:
        click.echo(f"{repo_dir}: up to date, nothing to commit", err=True)
    if outcome.pushed:
        click.echo(f"pushed {outcome.pushed} to {remote}", err=True)
    sys.exit(0)


@click.command("diff")
@_PATHS
@click.option("--against", "against", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="A rendered directory or deployment repository to compare the current render with.")
@click.option("--base", "base", default=None, help="A git ref of the spec repository (e.g. origin/main).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--unified", "-u", is_flag=True, help="Add a unified diff per changed resource.")
@click.option("--context", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Context lines of the unified diff.")
@click.option("--ignore", multiple=True, metavar="GLOB",
              help="Ignore field paths matching GLOB (`*` matches anything); repeatable.")
@click.option("--provenance", is_flag=True, help="Markdown: show provenance digests, hidden by default.")
def diff_command(paths: tuple[Path, ...], against: Path | None, base: str | None, fmt: str, unified: bool,
                 context: int, ignore: tuple[str, ...], provenance: bool) -> None:
    """Show what the current specs change, per resource: against a directory or a git ref."""
    from compiler.deploy.diff import diff_trees
    from compiler.deploy.repo import GitError
    from compiler.deploy.report import render
    from compiler.deploy.trees import against_dir, against_ref
    from compiler.render.patches import patched_fields

    if (against is None) == (base is None):
        _fail("pass exactly one of --against DIR and --base REF")
    try:
        trees = against_ref(base, list(paths) or None) if base else \
            against_dir(against, list(paths) or None)  # type: ignore[arg-type]
    except GitError as exc:
        _fail(str(exc))
        return
    _diagnostics([*trees.result.diagnostics, *trees.notes])
    if not trees.result.ok:
        _fail("cannot diff: the specs have errors", 2)
    result = diff_trees(trees.old, trees.new, unified=unified, context=context, ignore=ignore,
                        patched=patched_fields(trees.result))
    if fmt == "markdown":
        from compiler.deploy.review import to_markdown

        text = to_markdown(result, trees.old_specs, trees.new_specs, trees.live, trees.label, provenance=provenance)
    else:
        text = render(result, fmt, trees.label)
    click.echo(text, nl=False)
    sys.exit(1 if result.different else 0)


@click.command("drift")
@_PATHS
@click.option("--repo", "repo_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="The deployment repository or rendered directory (with --cluster: read for rollout stages).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--cluster", is_flag=True, help="Compare the rendered objects with the live cluster instead.")
@click.option("--context", default=None, help="With --cluster: the kubeconfig context (default: the current one).")
@click.option("--env", "environment", default=None, help="With --cluster: only this environment's apps.")
def drift_command(paths: tuple[Path, ...], repo_dir: Path | None, fmt: str, cluster: bool, context: str | None,
                  environment: str | None) -> None:
    """Report outdated, hand-modified, missing and orphaned files in a deployment repository."""
    if cluster:
        from compiler.live.clusterdrift import run_command

        sys.exit(run_command(list(paths) or None, repo_dir, context, environment, fmt))
    if repo_dir is None:
        _fail("--repo is required (or --cluster to compare with the live cluster)")
        return
    from compiler.deploy.drift import find_drift

    found, diags = find_drift(repo_dir, list(paths) or None)
    _diagnostics(diags)
    if found is None:
        _fail(f"{repo_dir} has no mlspec manifest (.mlspec/manifest.json): render or commit into it first")
        return
    click.echo(found.to_json() if fmt == "json" else found.to_text(), nl=fmt == "text")
    if any(d.is_error for d in diags):
        sys.exit(2)
    sys.exit(1 if found.items else 0)
