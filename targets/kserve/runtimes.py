"""KServe's built-in ClusterServingRuntimes: which model formats each serves and over which protocols.

The table follows the runtimes KServe installs (config/runtimes in kserve/kserve). It decides the
default runtime for a framework and lets the checks reject a runtime/format/protocol combination the
admission webhook or the runtime itself would refuse. A runtime not in the table is the user's own
ServingRuntime: nothing is known about it, so nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

# How a runtime learns the model name it serves (config/runtimes and the InferenceService defaulter
# in kserve/kserve v0.20.0):
ARGS = "args"  # `--model_name={{.Name}}` in the container args; the InferenceService's model.args are
#                appended after the runtime's, and the servers' argparse keeps the last value
ENV = "env"  # MLServer: MLSERVER_MODEL_NAME, set to the InferenceService name unless the model sets it
REPOSITORY = "repository"  # TorchServe, Triton: from the model repository itself, not the object name


@dataclass(frozen=True, slots=True)
class Runtime:
    name: str
    formats: tuple[str, ...]
    protocols: tuple[str, ...]  # in preference order: the first is the default
    model_name: str = ARGS
    gpu: bool = True


BUILTIN: dict[str, Runtime] = {r.name: r for r in (
    Runtime("kserve-sklearnserver", ("sklearn",), ("v1", "v2")),
    Runtime("kserve-xgbserver", ("xgboost",), ("v1", "v2")),
    Runtime("kserve-lgbserver", ("lightgbm",), ("v1", "v2")),
    Runtime("kserve-mlserver", ("sklearn", "xgboost", "lightgbm", "mlflow"), ("v2", "grpc-v2"), ENV),
    Runtime("kserve-tensorflow-serving", ("tensorflow",), ("v1",)),
    Runtime("kserve-torchserve", ("pytorch",), ("v1", "v2", "grpc-v2"), REPOSITORY),
    Runtime("kserve-tritonserver", ("tensorflow", "onnx", "pytorch", "triton"), ("v2", "grpc-v2"), REPOSITORY),
    Runtime("kserve-huggingfaceserver", ("huggingface",), ("v1", "v2")),
    Runtime("kserve-pmmlserver", ("pmml",), ("v1", "v2")),
    Runtime("kserve-paddleserver", ("paddle",), ("v1", "v2")),
)}

# framework -> (modelFormat.name, default runtime)
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn", "kserve-sklearnserver"),
    "xgboost": ("xgboost", "kserve-xgbserver"),
    "lightgbm": ("lightgbm", "kserve-lgbserver"),
    "tensorflow": ("tensorflow", "kserve-tensorflow-serving"),
    "pytorch": ("pytorch", "kserve-torchserve"),
    "onnx": ("onnx", "kserve-tritonserver"),
    "huggingface": ("huggingface", "kserve-huggingfaceserver"),
}



@dataclass(frozen=True, slots=True)
class Serving:
    """What the predictor's `model` block says: format, runtime and protocol."""

    format: str
    runtime: str
    protocol: str | None  # None for an unknown runtime with no protocol requested: let it choose
    builtin: Runtime | None


def resolve(framework: str, runtime: str | None, protocol: str | None) -> Serving | None:
    """The runtime for a framework; None when `custom` has no runtime (a check reports that)."""
    fmt, default = FRAMEWORKS.get(framework, (framework, ""))
    chosen = runtime
    if chosen is None:
        if not default:
            return None
        chosen = default
        if protocol is not None and protocol not in BUILTIN[default].protocols:
            # e.g. grpc-v2 for xgboost moves to MLServer, v2 for tensorflow to Triton.
            chosen = next((r.name for r in BUILTIN.values() if fmt in r.formats and protocol in r.protocols),
                          default)
    builtin = BUILTIN.get(chosen)
    if protocol is None and builtin is not None:
        protocol = builtin.protocols[0]
    return Serving(format=fmt, runtime=chosen, protocol=protocol, builtin=builtin)
