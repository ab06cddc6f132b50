"""Start one Kubeflow Pipelines run through the v2beta1 REST API, then exit.

This file is shipped verbatim in the runner ConfigMap and run by the schedule's CronJob with a stock
Python image, so it uses the standard library only. It takes every value as a separate argument (no
shell), reads the pipeline from a mounted JSON file, and optionally reads extra run parameters (such as
baseline metrics) from a mounted directory with one file per parameter holding a JSON value.

Exit codes: 0 run started or skipped because one is active, 1 the API refused or failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "PAUSED", "CANCELING"})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="start_run", description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="KFP endpoint, e.g. http://ml-pipeline-ui.kubeflow:80")
    parser.add_argument("--pipeline", required=True, type=Path, help="pipeline JSON (v2beta1 pipeline_spec)")
    parser.add_argument("--run-name", required=True, help="display-name prefix; a UTC timestamp is appended")
    parser.add_argument("--experiment-id", default=None)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a string run parameter (repeatable)")
    parser.add_argument("--param-dir", type=Path, default=None,
                        help="directory of NAME files with JSON values; a missing directory is ignored")
    parser.add_argument("--token-file", type=Path, default=None, help="bearer token (projected SA token)")
    parser.add_argument("--run-id-param", default=None, metavar="NAME",
                        help="set parameter NAME to a run-unique id (start time and a random suffix), so "
                             "the run does not replay KFP's cache or overwrite the last run's model")
    parser.add_argument("--skip-if-active", action="store_true",
                        help="start nothing while a run with the same name prefix is active")
    parser.add_argument("--timeout", type=float, default=30.0)
    return parser.parse_args(argv)


def run_parameters(params: list[str], param_dir: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if param_dir is not None and param_dir.is_dir():
        for path in sorted(param_dir.iterdir()):
            if path.is_file() and not path.name.startswith("."):  # ConfigMap mounts add ..data links
                out[path.name] = json.loads(path.read_text(encoding="utf-8"))
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {item!r} is not NAME=VALUE")
        out[name] = value
    return out


OUTPUT_URI = "model_output_uri"


def _root_parameters(pipeline: Any) -> dict[str, Any]:
    ir = pipeline.get("pipeline_spec", pipeline) if isinstance(pipeline, dict) else {}
    params = (((ir or {}).get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    return params if isinstance(params, dict) else {}


def _root_default(pipeline: Any, name: str) -> str | None:
    value = (_root_parameters(pipeline).get(name) or {}).get("defaultValue")
    return value if isinstance(value, str) else None


class Api:
    def __init__(self, host: str, token: str | None, timeout: float) -> None:
        self.base = host.rstrip("/") + "/apis/v2beta1"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"{}")


def active_run(api: Api, prefix: str, experiment_id: str | None) -> str | None:
    predicates = [{"key": "display_name", "operation": "IS_SUBSTRING", "string_value": prefix}]
    query = {"filter": json.dumps({"predicates": predicates}), "page_size": "100", "sort_by": "created_at desc"}
    if experiment_id:
        query["experiment_id"] = experiment_id
    listing = api.call("GET", "/runs", query=query)
    for run in listing.get("runs") or []:
        if str(run.get("display_name", "")).startswith(prefix) and run.get("state") in ACTIVE_STATES:
            return str(run.get("run_id"))
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if urllib.parse.urlsplit(args.host).scheme not in ("http", "https"):
        print(f"start_run: --host must be an http(s) URL, got {args.host!r}", file=sys.stderr)
        return 2
    try:
        pipeline = json.loads(args.pipeline.read_text(encoding="utf-8"))
        parameters = run_parameters(args.param, args.param_dir)
        token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else None
    except (OSError, ValueError) as exc:
        print(f"start_run: {exc}", file=sys.stderr)
        return 2
    api = Api(args.host, token, args.timeout)
    try:
        if args.skip_if_active:
            running = active_run(api, args.run_name, args.experiment_id)
            if running is not None:
                print(f"start_run: run {running} of {args.run_name} is still active; not starting another")
                return 0
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
        if args.run_id_param:
            run_id = f"{stamp}-{secrets.token_hex(4)}"
            parameters[args.run_id_param] = run_id
            base = _root_default(pipeline, "model_uri")
            if OUTPUT_URI in _root_parameters(pipeline) and base:
                # The same rule as targets/kubeflow/runs.py: this run's model never lands on model_uri.
                parameters[OUTPUT_URI] = f"{base.rstrip('/')}/runs/{run_id}"
        body: dict[str, Any] = {
            "display_name": f"{args.run_name}-{stamp}",
            "pipeline_spec": pipeline,
            "runtime_config": {"parameters": parameters},
        }
        if args.experiment_id:
            body["experiment_id"] = args.experiment_id
        created = api.call("POST", "/runs", body)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:2000]
        print(f"start_run: KFP API answered {exc.code}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"start_run: cannot reach KFP at {args.host}: {exc}", file=sys.stderr)
        return 1
    print(f"start_run: started run {created.get('run_id')} ({body['display_name']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
