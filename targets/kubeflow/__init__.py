"""The kubeflow target (being written: renders nothing yet)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.plan import Plan
from compiler.targets import OutputFile, Target


class KubeflowTarget(Target):
    name = "kubeflow"
    description = "(in development)"

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        return ()
