"""GOV rules: what governance output needs that the core rules do not already demand.

The core already enforces the high-risk policy (approver, on-call, model card, gates, shadow or
canary, manual approval, payload logging: MLS210-216); nothing here repeats it.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Severity
from compiler.planning.plan import Plan
from targets.governance.codeowners import CODE_OWNER_ROLES, HANDLE_RE, code_owners, is_owner, spec_pattern
from targets.governance.settings import HIGH_RISK_MIN_RETENTION_DAYS, GovernanceSettings

CODES: dict[str, str] = {
    "GOV001": "No code owner has a GitHub handle: CODEOWNERS falls back to emails.",
    "GOV002": "No owner has the `owner` or `approver` role: CODEOWNERS lists every owner.",
    "GOV003": "An owner's GitHub handle or email cannot be written into CODEOWNERS safely.",
    "GOV004": "The spec path is not a plain CODEOWNERS pattern (spaces, glob or comment characters).",
    "GOV005": "High risk: `targets.governance.logRetentionDays` is below six months (Art. 12, 19, 26).",
    "GOV006": "High risk: the model card lacks `trainingData` or `evaluationData` (Art. 11, Annex IV).",
    "GOV020": "High risk: no provider is named for Annex IV point 1(a) (`targets.governance.provider`).",
    "GOV021": "High risk: the model card lacks `outOfScopeUse`, the foreseeable misuse of Annex IV 1(h).",
    "GOV022": "High risk: the model card lacks `ethicalConsiderations`, the foreseeable risks of Annex IV 3.",
    "GOV023": "High risk: no gate declares an absolute level, so Annex IV 3 has no expected accuracy.",
    "GOV024": "High risk: no monitors, so there is no post-market monitoring plan (Annex IV 9, Art. 72).",
}


def _warn(code: str, path: tuple[str | int, ...], message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, severity=Severity.WARNING, path=path, hint=hint)


def check(plan: Plan, settings: GovernanceSettings) -> Iterator[Diagnostic]:
    chosen = code_owners(plan)
    if not any(any(r in CODE_OWNER_ROLES for r in o.roles) for o in plan.owners):
        yield _warn("GOV002", ("owners",), "no owner has the owner or approver role, so every owner becomes a "
                    "code owner", "give the people who review changes to this model the `owner` role")
    for index, owner in enumerate(plan.owners):
        if owner not in chosen:
            continue
        if owner.github is not None and not HANDLE_RE.fullmatch(owner.github):
            yield Diagnostic("GOV003", f"GitHub handle {owner.github!r} cannot be written into CODEOWNERS",
                             path=("owners", index, "github"), hint="use @user or @org/team")
        elif owner.github is None and not is_owner(owner.email):
            yield Diagnostic("GOV003", f"email {owner.email!r} cannot be written into CODEOWNERS",
                             path=("owners", index, "email"),
                             hint="add a `github` handle, or use an address without '#', spaces or non-ASCII")
    if chosen and not any(o.github for o in chosen):
        yield _warn("GOV001", ("owners",), "no code owner has a GitHub handle; CODEOWNERS lists emails, which "
                    "GitHub honours only when they belong to an account with write access",
                    "add `github: \"@user\"` or `github: \"@org/team\"` to an owner or approver")
    if settings.include_specs and spec_pattern(plan, settings.spec_prefix) is None:
        yield Diagnostic("GOV004", f"spec path {plan.provenance.spec_path!r} cannot be a CODEOWNERS pattern",
                         hint="rename the spec file with letters, digits, '.', '_', '-' and '/' only, or set "
                              "targets.governance.includeSpecs: false")
    if plan.risk == "high" and settings.log_retention_days < HIGH_RISK_MIN_RETENTION_DAYS:
        yield Diagnostic("GOV005", f"logRetentionDays is {settings.log_retention_days}; a high-risk system "
                         f"keeps its logs at least {HIGH_RISK_MIN_RETENTION_DAYS} days",
                         path=("metadata", "risk"),
                         hint="raise targets.governance.logRetentionDays in mlspec.yaml")
    if plan.risk == "high":
        missing = [key for key, value in (("trainingData", plan.model_card.training_data),
                                          ("evaluationData", plan.model_card.evaluation_data)) if not value]
        if missing:
            yield _warn("GOV006", ("modelCard",), "high-risk technical documentation describes the training and "
                        "evaluation data; the model card lacks " + " and ".join(missing),
                        "the card shows the data pin instead; describe provenance, scope and known gaps")

    if plan.risk == "high":
        yield from annex_iv_gaps(plan, settings)


def annex_iv_gaps(plan: Plan, settings: GovernanceSettings) -> Iterator[Diagnostic]:
    """What Annex IV needs from the spec for a high-risk model; the document shows a TODO for each."""
    if not settings.provider:
        yield _warn("GOV020", ("metadata", "risk"), "Annex IV 1(a) names the provider of a high-risk system; "
                    "none is configured", "set targets.governance.provider in mlspec.yaml to your legal name")
    card = plan.model_card
    if not card.out_of_scope_use:
        yield _warn("GOV021", ("modelCard",), "Annex IV 1(h) and Art. 13 need the foreseeable misuse; the model "
                    "card lacks outOfScopeUse", "add modelCard.outOfScopeUse: uses the model is not meant for")
    if not card.ethical_considerations:
        yield _warn("GOV022", ("modelCard",), "Annex IV 3 needs the foreseeable unintended outcomes and risks to "
                    "fundamental rights; the model card lacks ethicalConsiderations",
                    "add modelCard.ethicalConsiderations: who could be harmed and how it is watched")
    if plan.gates and all(g.min is None and g.max is None for g in plan.gates):
        yield _warn("GOV023", ("gates",), "every gate only compares with the baseline, so no level of accuracy is "
                    "declared (Annex IV 3, Art. 15)", "give at least one gate a min or max")
    if not plan.monitors:
        yield Diagnostic("GOV024", "a high-risk system needs a post-market monitoring plan (Annex IV 9, Art. 72); "
                         "the spec has no monitors", path=("metadata", "risk"),
                         hint="add monitors: for the quality and the serving health of the model")
