"""A real KServe Python model server on 127.0.0.1 serving one tiny model whose faults a test controls.

Run as a script (tests/behaviour_harness.py does): `python kserve_faulty_model.py`, configured by the
environment: MODEL_NAME (the InferenceService name, as KServe's runtimes pass `--model_name={{.Name}}`;
several, comma-separated, to serve more than one model from one server), HTTP_PORT and CONTROL (a JSON file
read on every request, `{model}` in its path replaced by the model's name: `latency` seconds to sleep, `fail_every`
N to fail every Nth request, `output` the prediction returned). `/metrics` is the server's own: the
histograms kserve.metrics records in `Model.__call__`, plus the exporter contract's
`ml_inference_errors_total{model_name}` (docs/metrics.md), counted here because KServe counts no failures.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import uvicorn

# The server hard-codes host 0.0.0.0 (kserve/protocol/rest/server.py); tests bind loopback only.
_Config = uvicorn.Config


def _loopback(*args: Any, **kwargs: Any) -> uvicorn.Config:
    kwargs["host"] = "127.0.0.1"
    return _Config(*args, **kwargs)


uvicorn.Config = _loopback  # type: ignore[misc]

import kserve  # noqa: E402  (after the patch: kserve binds uvicorn.Config at call time, but be safe)
from prometheus_client import Counter  # noqa: E402

ERRORS = Counter("ml_inference_errors_total", "Failed predict calls (mlspec exporter contract).", ["model_name"])


class FaultyModel(kserve.Model):
    def __init__(self, name: str, control: Path) -> None:
        super().__init__(name)
        self.control = control
        self.calls = 0
        ERRORS.labels(model_name=name).inc(0)  # the contract: exported from start-up, at 0
        self.ready = True

    def load(self) -> bool:
        self.ready = True
        return True

    def settings(self) -> dict[str, Any]:
        try:
            data = json.loads(self.control.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> dict[str, Any]:
        control = self.settings()
        self.calls += 1
        await asyncio.sleep(float(control.get("latency", 0.0)))
        every = int(control.get("fail_every", 0))
        if every and self.calls % every == 0:
            ERRORS.labels(model_name=self.name).inc()
            raise RuntimeError("injected failure")
        instances = payload.get("instances", [[0]]) if isinstance(payload, dict) else [[0]]
        return {"predictions": [float(control.get("output", 0.5)) for _ in instances]}


def main() -> None:
    control = os.environ["CONTROL"]
    models = [FaultyModel(name, Path(control.replace("{model}", name))) for name in os.environ["MODEL_NAME"].split(",")]
    server = kserve.ModelServer(http_port=int(os.environ["HTTP_PORT"]), enable_grpc=False, workers=1)
    server.start(models)


if __name__ == "__main__":
    main()
