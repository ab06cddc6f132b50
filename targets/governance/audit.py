"""The audit trail seed: the deployment's provenance and policy, which every later record points to.

mlspec renders the seed; it never renders the trail itself. The rollout engine appends records to an
append-only log of its own (format in docs/governance.md) whose first record names the seed's digest,
so re-rendering can never overwrite history and a record can always be traced to the exact policy it
ran under.
"""

from __future__ import annotations

from typing import Any

from compiler.planning.plan import Plan, canonical_json, sha256_text
from targets.governance.codeowners import owner_id
from targets.governance.mermaid import gate_rule
from targets.governance.settings import GovernanceSettings

SCHEMA = "mlspec.dev/audit-seed/v1"
RECORD_SCHEMA = "mlspec.dev/audit-record/v1"


def obligations(risk: str) -> list[str]:
    if risk == "high":
        return ["art-11-technical-documentation", "art-12-record-keeping", "art-14-human-oversight",
                "art-15-accuracy-robustness"]
    if risk == "limited":
        return ["art-50-transparency"]
    return []


def seed(plan: Plan, settings: GovernanceSettings, card_path: str) -> dict[str, Any]:
    prov = plan.provenance
    rollout = plan.rollout
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "model": plan.name,
        "team": plan.team,
        "policy": {
            "risk_tier": plan.risk,
            "eu_ai_act_obligations": obligations(plan.risk),
            "approvers": [owner_id(o) for o in plan.owners if "approver" in o.roles],
            "oncall": [owner_id(o) for o in plan.owners if "oncall" in o.roles],
            "approval_required": [e.name for e in plan.serving.environments if e.approval_required],
            "payload_logging": plan.serving.payload_logging,
            "log_retention_days": settings.log_retention_days,
            "model_card": card_path,
        },
        "provenance": {
            "spec": prov.spec_path,
            "spec_digest": f"sha256:{prov.spec_digest}",
            "plan_digest": f"sha256:{plan.digest}",
            "compiler_version": prov.compiler_version,
            "code_repo": prov.code_repo,
            "code_commit": prov.code_commit,
            "data": {
                "dataset": plan.data.dataset,
                "version": plan.data.version,
                "hash": plan.data.hash,
                "location": plan.data.location,
                "registry_repo": plan.data.registry_repo,
                "registry_commit": plan.data.registry_commit,
            },
            "model_version": plan.model.version,
            "model_uri": plan.model.uri,
            "previous_model": {"version": plan.model.previous_version, "uri": plan.model.previous_uri}
            if plan.model.previous_version else None,
            "prompt": {"path": plan.model.prompt_path, "sha256": plan.model.prompt_sha256}
            if plan.model.prompt_sha256 else None,
            "image_tag": plan.image_tag,
        },
        "gates": [
            {"metric": g.metric, "kind": g.kind, "direction": g.direction, "min": g.min, "max": g.max,
             "baseline": g.baseline, "tolerance": g.tolerance, "tolerance_relative": g.tolerance_relative,
             "rule": gate_rule(g)}
            for g in plan.gates
        ],
        "environments": [
            {"name": e.name, "namespace": e.namespace, "approval_required": e.approval_required,
             "rollout": e.rollout}
            for e in plan.serving.environments
        ],
        "rollout": {
            "environment": rollout.environment,
            "stages": [{"name": s.name, "kind": s.kind, "traffic": s.traffic, "mirror": s.mirror,
                        "duration_seconds": s.duration_seconds} for s in rollout.stages],
            "advance_when_quiet": list(rollout.advance_when_quiet),
            "rollback_on": list(rollout.rollback_on),
            "manual_approval": rollout.manual_approval,
            "min_requests": rollout.min_requests,
        } if rollout else None,
        "record_schema": RECORD_SCHEMA,
    }
    # The digest over the canonical JSON of everything above: records chain from it.
    return {**body, "seed_digest": f"sha256:{sha256_text(canonical_json(body))}"}
