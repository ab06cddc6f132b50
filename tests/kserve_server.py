"""Run KServe's real Python model server (the `kserve` package) the way a built-in runtime starts it.

    python tests/kserve_server.py ARG...

ARG... is the predictor container's command line as KServe builds it (runtime args with placeholders
replaced, then the InferenceService's `model.args`, see tests/kserve_runtime.py). The arguments are
parsed by KServe's own parser, exactly like the sklearn/xgboost servers' `__main__` does, so a repeated
`--model_name` resolves the way it does in the cluster. The model is a tiny `kserve.Model` (it returns
the sum of each row); what is under test is the server: its routes, its model name, its metrics.

The only change to the real server: it is bound to 127.0.0.1 (KServe hard-codes 0.0.0.0 in RESTServer).
"""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str]) -> None:
    sys.argv = [sys.argv[0], *argv]  # kserve.model_server parses sys.argv at import time
    import argparse

    import kserve
    import uvicorn
    from kserve import model_server
    from kserve.protocol.rest import server as rest_server
    from kserve.utils.utils import get_predict_input, get_predict_response

    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--model_dir", default="/mnt/models")  # the runtimes pass it; nothing to load here
    args, _ = parser.parse_known_args(argv)

    real_config = uvicorn.Config

    def loopback_config(app: Any, **kwargs: Any) -> uvicorn.Config:
        kwargs["host"] = "127.0.0.1"
        return real_config(app, **kwargs)

    rest_server.uvicorn.Config = loopback_config  # type: ignore[misc]

    class SumModel(kserve.Model):  # type: ignore[misc]
        def load(self) -> bool:
            self.ready = True
            return self.ready

        def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
            # The sklearn server's own input/output helpers, so v1 and v2 payloads both work.
            instances = get_predict_input(payload)
            return get_predict_response(payload, instances.sum(axis=1), self.name)

    model = SumModel(args.model_name)
    model.load()
    kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main(sys.argv[1:])
