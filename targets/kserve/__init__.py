"""The kserve target: InferenceServices per environment and rollout stage, shadow mirroring, rollback,
Kafka wiring for streaming models, storage ServiceAccounts and kustomizations (docs/kserve.md)."""

from __future__ import annotations

from collections.abc import Iterable

from compiler.diagnostics import Diagnostic
from compiler.planning.plan import Plan
from compiler.render.plugins import Locations, OutputFile, RolloutOutput, Target
from targets.kserve import checks
from targets.kserve.settings import KServeSettings

__all__ = ["KServeSettings", "KServeTarget"]


class KServeTarget(Target):
    name = "kserve"
    description = "KServe InferenceServices with shadow, canary and rollback stages, for GitOps."
    codes = checks.CODES
    settings_model = KServeSettings

    # The project's settings are the default; a spec's `serving.kserve` overrides them for its model.
    def check(self, plan: Plan, settings: KServeSettings) -> Iterable[Diagnostic]:
        return list(checks.check(plan, settings.for_model(plan.serving.kserve)))

    def render(self, plan: Plan, settings: KServeSettings) -> Iterable[OutputFile]:
        from targets.kserve import layout  # render only: lint starts faster

        return layout.render(plan, settings.for_model(plan.serving.kserve))

    def locations(self, plan: Plan, settings: KServeSettings, environment: str) -> Locations:
        if not checks.serves_live(plan) or plan.rollout is None or plan.rollout.environment != environment:
            return Locations()
        from targets.kserve import layout

        return Locations(rollout=RolloutOutput(layout.environment_dir(plan, environment),
                                               tuple(s.name for s in checks.stages(plan)), checks.has_previous(plan)))
