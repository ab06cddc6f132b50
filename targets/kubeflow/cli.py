"""`mlspec kfp submit` starts a run of a rendered training pipeline through the KFP REST API;
`mlspec kfp retrain-webhook` is the receiver of Alertmanager's retraining route (retrain_webhook.py).

The CI's train_model job calls this instead of the `kfp` command line (which needs a reachable cluster
even for `--help` and was never installed by the job): it sends the reviewed, rendered package with the
run-unique parameters (targets/kubeflow/runs.py) and, with `--wait`, polls until the run ends.
Exit codes: 0 the run succeeded (or was started, without --wait), 1 the run failed or the API refused
it, 2 usage or input errors.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

import click

FINAL_OK = frozenset({"SUCCEEDED"})
FINAL_BAD = frozenset({"FAILED", "CANCELED", "SKIPPED"})


@click.group("kfp")
def kfp_command() -> None:
    """Kubeflow Pipelines runs of rendered pipelines (docs/kubeflow.md)."""


def _api(host: str, token_file: Path | None, timeout: float) -> Any:
    from targets.kubeflow.start_run import Api

    if urllib.parse.urlsplit(host).scheme not in ("http", "https"):
        raise click.UsageError(f"--host must be an http(s) URL, got {host!r}")
    token = token_file.read_text(encoding="utf-8").strip() if token_file else None
    return Api(host, token, timeout)


@kfp_command.command("submit")
@click.option("--host", required=True, envvar="KFP_ENDPOINT", help="KFP endpoint, e.g. http://ml-pipeline-ui.kubeflow")
@click.option("--package", "package", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The rendered pipeline.yaml.")
@click.option("--run-name", required=True, help="Display name of the run (the run id is appended).")
@click.option("--run-id", required=True, help="Run-unique id, e.g. the CI run's id and attempt.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Production's metrics (JSON) for the gates that compare with the baseline.")
@click.option("--first-deployment", is_flag=True,
              help="No model is in production: baseline comparisons pass, as in `mlspec gate` without --baseline.")
@click.option("--experiment-id", default=None)
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--wait", is_flag=True, help="Poll until the run ends; exit 1 unless it succeeded.")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds --wait may take.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=30.0, show_default=True)
def submit_command(host: str, package: Path, run_name: str, run_id: str, baseline: Path | None,
                   first_deployment: bool, experiment_id: str | None, token_file: Path | None, wait: bool,
                   timeout: float, interval: float) -> None:
    """Start one run of PACKAGE with run-unique parameters; with --wait, until it ends."""
    from targets.kubeflow import runs

    try:
        spec = runs.load_package(package)
        metrics = runs.read_metrics(baseline) if baseline is not None and baseline.is_file() else None
        params = runs.run_parameters(spec, run_id, metrics, first_deployment=first_deployment)
        api = _api(host, token_file, 30.0)
    except (runs.RunError, OSError) as exc:
        click.echo(f"mlspec kfp: {exc}", err=True)
        sys.exit(2)
    body = runs.request_body(f"{run_name}-{run_id}", spec, params, experiment_id)
    try:
        created = api.call("POST", "/runs", body)
        kfp_run = str(created.get("run_id", ""))
        click.echo(f"started run {kfp_run} ({body['display_name']})", err=True)
        if not wait:
            sys.exit(0)
        deadline = time.monotonic() + timeout
        while True:
            state = str(api.call("GET", f"/runs/{urllib.parse.quote(kfp_run, safe='')}").get("state", ""))
            if state in FINAL_OK:
                click.echo(f"run {kfp_run}: {state}", err=True)
                sys.exit(0)
            if state in FINAL_BAD:
                click.echo(f"mlspec kfp: run {kfp_run} ended {state}", err=True)
                sys.exit(1)
            if time.monotonic() >= deadline:
                click.echo(f"mlspec kfp: run {kfp_run} still {state or 'unknown'} after {timeout:g}s", err=True)
                sys.exit(1)
            time.sleep(interval)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:2000]
        click.echo(f"mlspec kfp: the KFP API answered {exc.code}: {detail}", err=True)
        sys.exit(1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        click.echo(f"mlspec kfp: cannot reach KFP at {host}: {exc}", err=True)
        sys.exit(1)


@kfp_command.command("retrain-webhook")
@click.option("--repo", "repo", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="A checkout of the deployment repository (kept current by git-sync or similar).")
@click.option("--host", required=True, envvar="KFP_ENDPOINT", help="KFP endpoint runs are started at.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="Address to serve on (host:port).")
@click.option("--baselines", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory of <model>.json production metrics for the pipelines' baseline gates.")
@click.option("--experiment-id", default=None)
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), default=None)
def retrain_webhook_command(repo: Path, host: str, listen: str, baselines: Path | None, experiment_id: str | None,
                            token_file: Path | None) -> None:
    """Serve POST /v1/alerts: start a retraining run for each firing drift alert (Alertmanager webhook v4)."""
    from targets.kubeflow.retrain_webhook import Receiver, serve

    address, _, port = listen.rpartition(":")
    if not address or not port.isdigit():
        raise click.UsageError(f"--listen must be host:port, got {listen!r}")
    api = _api(host, token_file, 30.0)
    receiver = Receiver(repo=repo, submit=lambda body: dict(api.call("POST", "/runs", body)), baselines=baselines,
                        experiment_id=experiment_id)
    try:
        server = serve(receiver, address, int(port))
    except OSError as exc:
        click.echo(f"mlspec kfp: cannot listen on {listen}: {exc}", err=True)
        sys.exit(2)
    click.echo(f"mlspec kfp retrain-webhook: listening on {listen}, starting runs at {host}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
