"""A stand-in for the Kubeflow Pipelines v2beta1 REST API (not the real server): it records run requests,
judges each body with `kfp_server_api`'s own models (the client the kfp SDK ships), and reports every
run as SUCCEEDED when asked. Bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def judge_run(body: dict[str, Any]) -> list[str]:
    """Problems with a run request by kfp_server_api's V2beta1Run: unknown keys, wrong types."""
    import kfp_server_api as api

    problems = []
    allowed = set(api.V2beta1Run.attribute_map.values())
    problems += [f"unknown run field {k!r}" for k in sorted(set(body) - allowed)]
    runtime = body.get("runtime_config") or {}
    if not isinstance(runtime, dict):
        return [*problems, "runtime_config is not an object"]
    problems += [f"unknown runtime_config field {k!r}"
                 for k in sorted(set(runtime) - set(api.V2beta1RuntimeConfig.attribute_map.values()))]
    try:
        run = api.ApiClient()._ApiClient__deserialize(body, "V2beta1Run")  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        return [*problems, f"kfp_server_api refuses the run: {exc}"]
    if not run.display_name:
        problems.append("no display_name")
    if run.pipeline_spec is None and run.pipeline_version_reference is None:
        problems.append("neither pipeline_spec nor pipeline_version_reference")
    spec = run.pipeline_spec or {}
    ir = spec.get("pipeline_spec", spec)
    declared = ((ir.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    given = (run.runtime_config.parameters if run.runtime_config else None) or {}
    for name, definition in declared.items():
        if "defaultValue" not in definition and not definition.get("isOptional") and name not in given:
            problems.append(f"required pipeline parameter {name!r} not given")
    problems += [f"parameter {k!r} is not declared by the pipeline" for k in sorted(set(given) - set(declared))]
    return problems


class FakeKfp:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.problems: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                if self.path != "/apis/v2beta1/runs":
                    self._send(404, {"error": "not found"})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                problems = judge_run(body)
                if problems:
                    fake.problems += problems
                    self._send(400, {"error": "; ".join(problems)})
                    return
                run_id = f"run-{len(fake.runs) + 1}"
                fake.runs.append(body)
                self._send(200, {**body, "run_id": run_id, "state": "PENDING"})

            def do_GET(self) -> None:
                if self.path.startswith("/apis/v2beta1/runs/"):
                    self._send(200, {"run_id": self.path.rsplit("/", 1)[1], "state": "SUCCEEDED"})
                elif self.path.startswith("/apis/v2beta1/runs"):
                    self._send(200, {"runs": []})
                else:
                    self._send(404, {"error": "not found"})

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKfp:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
