"""The model card: Hugging Face-style YAML front matter built as data, and a Markdown body.

The front matter is serialized by the canonical writer (never templated), so it parses back to the
same data in PyYAML and ruamel. The body is a Jinja template that only lays out a view in which every
spec value has already been escaped for where it goes (`escape.py`); the template adds no values of
its own, so forgetting a filter cannot leak raw spec text into the card.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from compiler.language.units import format_duration
from compiler.planning.plan import GatePlan, Plan
from compiler.render.serialize import dump_yaml
from targets.governance.audit import obligations
from targets.governance.codeowners import owner_id
from targets.governance.escape import md_code, md_inline, md_text
from targets.governance.mermaid import gate_rule, rollout_plan, training_dag
from targets.governance.settings import GovernanceSettings

if TYPE_CHECKING:
    import jinja2

# Hugging Face `library_name` for the frameworks it knows; others are left out rather than guessed.
LIBRARY_NAME = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "pytorch",
                "tensorflow": "tf-keras", "onnx": "onnx", "huggingface": "transformers"}

NOT_STATED = "Not stated in the spec."

TIER_SUMMARY = {
    "high": "High-risk AI system (EU AI Act Annex III). It may be placed in service only with technical "
            "documentation, automatic event logs, human oversight and declared accuracy; this card, the "
            "audit trail and the rendered pipeline and rollout carry those obligations out as listed below.",
    "limited": "Limited-risk AI system: transparency obligations (EU AI Act Art. 50). People interacting "
               "with it are told they are dealing with an AI system, and generated content is marked as such.",
    "minimal": "Minimal-risk AI system: no obligations under the EU AI Act beyond voluntary codes of "
               "conduct (Art. 95). The gates and monitors below are the team's own policy.",
    "unacceptable": "Prohibited practice (EU AI Act Art. 5): mlspec refuses to render it.",
}


def _declared(gate: GatePlan) -> tuple[str, float] | None:
    """The absolute threshold a gate declares (Art. 15 'declared accuracy'), with what it bounds."""
    if gate.direction == "higher" and gate.min is not None:
        return "minimum", gate.min
    if gate.direction == "lower" and gate.max is not None:
        return "maximum", gate.max
    if gate.min is not None:
        return "minimum", gate.min
    if gate.max is not None:
        return "maximum", gate.max
    return None


def front_matter(plan: Plan, settings: GovernanceSettings, audit_path: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if settings.license:
        data["license"] = settings.license
    if settings.language:
        data["language"] = list(settings.language)
    library = LIBRARY_NAME.get(plan.model.framework)
    if library:
        data["library_name"] = library
    if settings.pipeline_tag:
        data["pipeline_tag"] = settings.pipeline_tag
    data["tags"] = list(dict.fromkeys(
        ["mlspec", plan.model.framework, f"{plan.serving.pattern}-serving", f"eu-ai-act-{plan.risk}-risk",
         f"team-{plan.team}"]))
    data["datasets"] = [plan.data.dataset]
    metrics = []
    for gate in plan.gates:
        declared = _declared(gate)
        if declared is None:
            continue  # a baseline-only gate declares no absolute level
        bound, value = declared
        metrics.append({"type": gate.metric, "name": f"{gate.metric} (declared {bound}, enforced by gate)",
                        "value": value})
    if metrics:
        data["model-index"] = [{
            "name": plan.name,
            "results": [{
                "task": {"type": settings.pipeline_tag or "other"},
                "dataset": {"type": plan.data.dataset, "name": plan.data.dataset, "revision": plan.data.hash},
                "metrics": metrics,
            }],
        }]
    prov = plan.provenance
    data["mlspec"] = {
        "spec": prov.spec_path,
        "spec_digest": f"sha256:{prov.spec_digest}",
        "plan_digest": f"sha256:{plan.digest}",
        "compiler_version": prov.compiler_version,
        "risk_tier": plan.risk,
        "model_version": plan.model.version,
        "model_uri": plan.model.uri,
        "data_hash": plan.data.hash,
        "code_repo": prov.code_repo,
        "code_commit": prov.code_commit,
        "prompt_sha256": plan.model.prompt_sha256,
        "audit_seed": audit_path,
    }
    return data


def _duration(seconds: int | None) -> str:
    return format_duration(seconds * 1000) if seconds else "until done"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _monitor_rule(plan: Plan, name: str) -> str:
    """What makes a monitor fire, in the units people read (ms, %), from the plan's normalized values."""
    m = plan.monitor(name)
    if m.kind == "latency" and m.threshold is not None:
        return f"p{_number((m.quantile or 0.99) * 100)} latency above {_number(m.threshold * 1000)}ms for {m.for_}"
    if m.kind in ("error_rate", "hallucination_rate") and m.threshold is not None:
        return f"{m.kind.replace('_', ' ')} above {_number(m.threshold * 100)}% for {m.for_}"
    if m.kind == "slo" and m.objective is not None:
        return f"error budget of {_number(m.objective * 100)}% over {m.period} burning"
    if m.kind == "throughput":
        bounds = [f"below {_number(m.min_rps)} rps" if m.min_rps is not None else "",
                  f"above {_number(m.max_rps)} rps" if m.max_rps is not None else ""]
        return "throughput " + " or ".join(b for b in bounds if b) + f" for {m.for_}"
    if m.threshold is not None:
        return f"{m.kind.replace('_', ' ')} beyond {_number(m.threshold)} for {m.for_}"
    return f"{m.kind.replace('_', ' ')} for {m.for_}"


def view(plan: Plan, settings: GovernanceSettings, audit_path: str) -> dict[str, Any]:
    """Everything the template prints, escaped for the place it is printed."""
    card = plan.model_card
    sections = [
        ("Intended use", card.intended_use),
        ("Out-of-scope use", card.out_of_scope_use),
        ("Limitations", card.limitations),
        ("Ethical considerations", card.ethical_considerations),
        ("Training data", card.training_data),
        ("Evaluation data", card.evaluation_data),
        ("Caveats and recommendations", card.caveats),
    ]
    approvers = [md_code(owner_id(o)) for o in plan.owners if "approver" in o.roles]
    oncall = [md_code(owner_id(o)) for o in plan.owners if "oncall" in o.roles]
    rollout = plan.rollout
    production = next((e for e in plan.serving.environments if e.approval_required), None)
    rollback_target = (f"{md_code(plan.model.previous_version)} at {md_code(plan.model.previous_uri)}"
                       if plan.model.previous_version and plan.model.previous_uri else None)
    data = plan.data
    pins = [
        ("Spec", md_code(plan.provenance.spec_path)),
        ("Spec digest", md_code(f"sha256:{plan.provenance.spec_digest}")),
        ("Plan digest", md_code(f"sha256:{plan.digest}")),
        ("Data", f"{md_code(data.dataset)} version {md_code(data.version)}, {md_code(data.hash)} at "
                 f"{md_code(data.location)}"),
        ("Data registry", f"{md_code(data.registry_repo)} at {md_code(data.registry_commit)}"
         if data.registry_repo and data.registry_commit else "none"),
        ("Code", f"{md_code(plan.model.code_repo)} at {md_code(plan.model.code_commit)}"),
        ("Model", f"version {md_code(plan.model.version)} at {md_code(plan.model.uri)}"),
        ("Previous model", rollback_target or "none"),
        ("Prompt", f"{md_code(plan.model.prompt_path or '')} {md_code(f'sha256:{plan.model.prompt_sha256}')}"
         if plan.model.prompt_sha256 else "none"),
        ("Training image", md_code(plan.pipeline.image)),
        ("Image tag", md_code(plan.image_tag)),
        ("Compiler", f"mlspec {md_code(plan.provenance.compiler_version)}"),
    ]
    stages = []
    if rollout is not None:
        for stage in rollout.stages:
            if stage.kind == "shadow":
                what = f"{_number(stage.mirror)}% of requests mirrored; responses discarded"
            else:
                what = f"{_number(stage.traffic)}% of live traffic"
            stages.append({"name": md_code(stage.name), "what": what,
                           "hold": _duration(stage.duration_seconds) if stage.kind != "full" else "final"})
    return {
        "name": md_text(plan.name),
        "description": md_text(plan.description),
        "facts": [
            ("Team", md_code(plan.team)),
            ("Risk tier (EU AI Act)", f"**{md_inline(plan.risk)}**"),
            ("Framework", md_code(plan.model.framework)),
            ("Serving pattern", md_code(plan.serving.pattern)),
            ("Model version", md_code(plan.model.version)),
            ("Environments", ", ".join(md_code(e.name) for e in plan.serving.environments)),
        ],
        "risk": md_inline(plan.risk),
        "high_risk": plan.risk == "high",
        "tier_summary": TIER_SUMMARY.get(plan.risk, ""),
        "obligations": obligations(plan.risk),
        "sections": [(title, md_text(text) if text else NOT_STATED) for title, text in sections],
        "gates": [{"metric": md_code(g.metric), "kind": g.kind, "direction": g.direction,
                   "rule": md_code(gate_rule(g))} for g in plan.gates],
        "evaluation_step": md_code(plan.pipeline.evaluation_step),
        "monitors": [{"name": md_code(m.name), "kind": m.kind, "severity": m.severity,
                      "window": md_code(m.window), "for": md_code(m.for_), "team": md_code(m.team),
                      "runbook": md_code(m.runbook) if m.runbook else "none",
                      "retrain": "yes" if m.retrain else "no",
                      "description": md_inline(m.description) if m.description else ""} for m in plan.monitors],
        "owners": [{"name": md_inline(o.name), "email": md_code(o.email),
                    "github": md_code(o.github) if o.github else "none",
                    "roles": ", ".join(o.roles)} for o in plan.owners],
        "approvers": ", ".join(approvers) or "none",
        "oncall": ", ".join(oncall) or "none",
        "pins": pins,
        "schedule": md_code(plan.pipeline.schedule) + " (UTC)" if plan.pipeline.schedule else "on demand",
        "retraining": plan.pipeline.retraining is not None,
        "retrain_on_data": bool(plan.pipeline.retraining and plan.pipeline.retraining.on_data_change),
        "retrain_monitors": ", ".join(md_code(m) for m in plan.pipeline.retraining.monitors)
        if plan.pipeline.retraining else "",
        "retrain_cooldown": _duration(plan.pipeline.retraining.cooldown_seconds) if plan.pipeline.retraining else "",
        "training_dag": training_dag(plan),
        "rollout_dag": rollout_plan(plan),
        "rollout": rollout is not None,
        "rollout_env": md_code(rollout.environment) if rollout else "",
        "stages": stages,
        "advance_when_quiet": ", ".join(md_code(m) for m in rollout.advance_when_quiet) if rollout else "",
        "rollback_on": [{"name": md_code(m), "rule": md_code(_monitor_rule(plan, m))}
                        for m in rollout.rollback_on] if rollout else [],
        "min_requests": rollout.min_requests if rollout else 0,
        "rollback_target": rollback_target,
        "production": md_code(production.name) if production else None,
        "payload_logging": plan.serving.payload_logging,
        "retention_days": settings.log_retention_days,
        "pattern": plan.serving.pattern,
        "audit_path": md_code(audit_path),
    }


@cache
def _template() -> jinja2.Template:
    import jinja2  # lazily: lint never renders a card, and jinja2 costs 15 ms of start-up
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    source = resources.files(__package__).joinpath("model_card.md.j2").read_text(encoding="utf-8")
    return env.from_string(source)


def generated_notice(spec_path: str, version: str) -> str:
    """The generated-file notice for an HTML comment, which `--` (let alone `-->`) must never end early."""
    shown = spec_path if re.fullmatch(r"[A-Za-z0-9._/-]+", spec_path) and "--" not in spec_path else "its spec"
    return (f"Generated by mlspec {version} from {shown}. Do not edit: changes are overwritten. "
            f"Regenerate with mlspec render {shown if shown != 'its spec' else 'SPEC'}.")


def render(plan: Plan, settings: GovernanceSettings, audit_path: str) -> str:
    matter = dump_yaml([front_matter(plan, settings, audit_path)])
    notice = generated_notice(plan.provenance.spec_path, plan.provenance.compiler_version)
    body = _template().render(view(plan, settings, audit_path))
    return f"---\n{matter}---\n<!-- {notice} -->\n\n{body.strip()}\n"
