"""The governance target: CODEOWNERS, a model card per model, and an audit trail seed per model.

Layout:
- `<codeowners_path>` (default `CODEOWNERS` at the root, read by GitHub and GitLab alike): project-wide.
- `models/<name>/governance/README.md`: the model card (README so forges show it when the folder is
  opened and Hugging Face tooling finds it where it looks).
- `models/<name>/governance/audit-seed.json`: provenance and policy the rollout engine's records chain to.
- `models/<name>/governance/annex-iv.md` (high risk only): the EU AI Act Annex IV technical documentation
  skeleton, with what the spec determines filled in and the rest marked TODO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.planning.plan import Plan
from compiler.render.plugins import Locations, OutputFile, Target
from targets.governance import checks, codeowners
from targets.governance.settings import GovernanceSettings, project_settings


def card_path(plan: Plan) -> str:
    return f"models/{plan.name}/governance/README.md"


def audit_path(plan: Plan) -> str:
    return f"models/{plan.name}/governance/audit-seed.json"


def annex_iv_path(plan: Plan) -> str:
    return f"models/{plan.name}/governance/annex-iv.md"


class GovernanceTarget(Target):
    name = "governance"
    description = "CODEOWNERS, model cards with Mermaid diagrams, audit trail seeds, EU AI Act Annex IV documentation"
    codes = checks.CODES
    settings_model = GovernanceSettings

    def check(self, plan: Plan, settings: Any) -> Iterable[Diagnostic]:
        return list(checks.check(plan, project_settings(settings)))

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        from targets.governance import annex_iv, audit, card  # render only: lint starts faster

        config = project_settings(settings)
        seed_path = audit_path(plan)
        out = [
            # Front matter must start at byte 0, so no comment header: provenance is in the front matter.
            OutputFile(card_path(plan), "text", card.render(plan, config, seed_path), comment=None),
            OutputFile(seed_path, "json", audit.seed(plan, config, card_path(plan)), comment=None),
        ]
        if plan.risk == "high":
            notice = card.generated_notice(plan.provenance.spec_path, plan.provenance.compiler_version)
            text = annex_iv.render(plan, config, card_path(plan), seed_path, notice)
            out.append(OutputFile(annex_iv_path(plan), "text", text, comment=None))
        return out

    def locations(self, plan: Plan, settings: Any, environment: str) -> Locations:
        return Locations(audit_seed=audit_path(plan))

    def project_part(self, plan: Plan, settings: Any, rendered: Mapping[str, bytes]) -> Any:
        config = project_settings(settings)
        return codeowners.share(plan, include_specs=config.include_specs, spec_prefix=config.spec_prefix)

    def render_project(self, plans: Sequence[Plan], settings: Any,
                       parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile]:
        config = project_settings(settings)
        text = codeowners.render(plans, path=config.codeowners_path, include_specs=config.include_specs,
                                 spec_prefix=config.spec_prefix, default_owners=config.default_owners, parts=parts)
        return [OutputFile(config.codeowners_path, "text", text)]
