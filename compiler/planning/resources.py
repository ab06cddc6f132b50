"""Compute resources in the plan: each layer (a step or environment, the serving section, the project
defaults) fills what the more specific ones left unset."""

from __future__ import annotations

from dataclasses import dataclass

from compiler.language.spec import Resources
from compiler.planning.quick_init import quick_init

DEFAULT_GPU_TYPE = "nvidia.com/gpu"


@quick_init
@dataclass(frozen=True, slots=True)
class ResourcesPlan:
    cpu: str | None
    memory: str | None
    gpu: int
    gpu_type: str


def resources_plan(*layers: Resources | None) -> ResourcesPlan:
    cpu = memory = gpu_type = None
    gpu = None
    for layer in layers:  # first non-empty value wins: most specific first
        if layer is None:
            continue
        cpu = cpu or layer.cpu
        memory = memory or layer.memory
        gpu = gpu if gpu is not None else layer.gpu
        gpu_type = gpu_type or layer.gpuType
    return ResourcesPlan(cpu=cpu, memory=memory, gpu=gpu or 0, gpu_type=gpu_type or DEFAULT_GPU_TYPE)
