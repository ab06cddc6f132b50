"""EU AI Act Annex IV technical documentation skeleton for high-risk models (Art. 11(1)).

The document follows Annex IV of Regulation (EU) 2024/1689 point by point (1(a)-(h), 2(a)-(h), 3-9, in
the regulation's order and numbering). Every point says what the spec already determines (intended
purpose, the data and its pin, the pipeline, the gates, human oversight, the monitors as the
post-market monitoring plan) and, where the spec cannot know the answer, carries a `TODO (provider)`
item a person must write. The closing checklist lists every TODO so a reviewer sees the gaps at once.

Evaluation results are not known at render time: each candidate's measured metrics and gate verdicts
are appended to the audit trail by `mlspec gate` / the rollout engine, which point 2(g) references.

Every spec value is escaped for the place it is printed (escape.py); the structure (headings, lists,
tables) is fixed by this module, so spec text cannot add or hide sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.language.units import format_duration
from compiler.planning.plan import Plan
from targets.governance.codeowners import owner_id
from targets.governance.escape import md_code, md_inline, md_text
from targets.governance.mermaid import gate_rule
from targets.governance.settings import GovernanceSettings

TODO = "**TODO (provider):**"

FORMS = {
    "realtime": "an online prediction API (KServe InferenceService) called by the deployer's systems",
    "batch": "scheduled batch scoring jobs that read an input location and write predictions",
    "streaming": "a stream processor that consumes events from Kafka and publishes predictions",
    "edge": "an exported model artifact packaged for devices",
}


@dataclass
class Point:
    """One numbered point of Annex IV: what the spec states, and what a person must still write."""

    number: str
    title: str
    derived: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


def _resources(cpu: str | None, memory: str | None, gpu: int, gpu_type: str) -> str:
    parts = [f"cpu {md_code(cpu)}" if cpu else "cpu not set",
             f"memory {md_code(memory)}" if memory else "memory not set"]
    if gpu:
        parts.append(f"{gpu} x {md_code(gpu_type)}")
    return ", ".join(parts)


def _card(text: str | None) -> str | None:
    return md_inline(text) if text else None


def points(plan: Plan, settings: GovernanceSettings, card_path: str, audit_path: str) -> list[Point]:
    card = plan.model_card
    data = plan.data
    model = plan.model
    approvers = ", ".join(md_code(owner_id(o)) for o in plan.owners if "approver" in o.roles) or "none"
    oncall = ", ".join(md_code(owner_id(o)) for o in plan.owners if "oncall" in o.roles) or "none"
    out: list[Point] = []

    # --- 1. General description ------------------------------------------------------------------
    p = Point("1(a)", "Intended purpose, provider, version and relation to previous versions")
    if card.intended_use:
        p.derived.append(f"Intended purpose: {md_inline(card.intended_use)}")
    else:
        p.todo.append("state the intended purpose (spec: `modelCard.intendedUse`).")
    p.derived.append(f"System: {md_code(plan.name)}: {md_inline(plan.description)}")
    if settings.provider:
        p.derived.append(f"Provider: {md_inline(settings.provider)}")
    else:
        p.todo.append("name the provider (mlspec.yaml: `targets.governance.provider`).")
    previous = (f"; it replaces version {md_code(model.previous_version)} at {md_code(model.previous_uri or '')}"
                if model.previous_version else "; there is no previous version")
    digest = md_code("sha256:" + plan.provenance.spec_digest)
    p.derived.append(f"Version: model {md_code(model.version)} at {md_code(model.uri)}{previous}. Spec "
                     f"{md_code(plan.provenance.spec_path)}, digest {digest}.")
    out.append(p)

    p = Point("1(b)", "Interaction with hardware or software, including other AI systems")
    p.derived.append(f"Served as {FORMS.get(plan.serving.pattern, md_code(plan.serving.pattern))}"
                     + (f", protocol {md_code(plan.serving.protocol)}" if plan.serving.protocol else "") + ".")
    if plan.serving.stream is not None:
        p.derived.append(f"Consumes topic {md_code(plan.serving.stream.topic)} as consumer group "
                         f"{md_code(plan.serving.stream.consumer_group)}.")
    if plan.serving.batch is not None:
        p.derived.append(f"Reads {md_code(plan.serving.batch.input)} and writes {md_code(plan.serving.batch.output)}.")
    p.todo.append("list the systems that call this model or act on its output, and any other AI system involved.")
    out.append(p)

    p = Point("1(c)", "Versions of relevant software or firmware, and version update requirements")
    p.derived.append(f"Framework {md_code(model.framework)}"
                     + (f", serving runtime {md_code(plan.serving.runtime)}" if plan.serving.runtime else "") + ".")
    p.derived.append(f"Training image {md_code(plan.pipeline.image)}; serving image tag {md_code(plan.image_tag)}.")
    p.derived.append(f"Code {md_code(model.code_repo)} at commit {md_code(model.code_commit)}; rendered by "
                     f"mlspec {md_code(plan.provenance.compiler_version)}.")
    p.derived.append("Updates: a new version is a reviewed change to the spec; it passes the evaluation gates and "
                     "the rollout in point 2(f) before it serves.")
    out.append(p)

    p = Point("1(d)", "Forms in which the system is placed on the market or put into service")
    form = FORMS.get(plan.serving.pattern, md_code(plan.serving.pattern))
    p.derived.append(f"{form[:1].upper()}{form[1:]}, deployed to "
                     + ", ".join(f"{md_code(e.name)} (namespace {md_code(e.namespace)})"
                                 for e in plan.serving.environments) + ".")
    out.append(p)

    p = Point("1(e)", "Hardware on which the system is intended to run")
    for env in plan.serving.environments:
        r = env.resources
        p.derived.append(f"{md_code(env.name)}: {env.replicas_min} to {env.replicas_max} replicas, each "
                         f"{_resources(r.cpu, r.memory, r.gpu, r.gpu_type)}.")
    if plan.serving.edge is not None:
        p.derived.append("Edge devices: " + ", ".join(md_code(d) for d in plan.serving.edge.devices) + ".")
    out.append(p)

    p = Point("1(f)", "Where the system is a component of products: external features, marking, internal layout")
    p.todo.append("photographs or illustrations if the system is part of a product; otherwise state that it is not.")
    out.append(p)

    p = Point("1(g)", "Basic description of the user interface provided to the deployer")
    p.todo.append("describe what the deployer sees and operates (API, dashboard, review queue).")
    out.append(p)

    p = Point("1(h)", "Instructions for use for the deployer")
    if card.out_of_scope_use:
        p.derived.append(f"Out-of-scope use: {md_inline(card.out_of_scope_use)}")
    else:
        p.todo.append("state foreseeable misuse and out-of-scope use (spec: `modelCard.outOfScopeUse`).")
    if card.limitations:
        p.derived.append(f"Limitations: {md_inline(card.limitations)}")
    p.derived.append(f"Model card: {md_code(card_path)}.")
    p.todo.append("write the instructions for use (Art. 13) and link them here.")
    out.append(p)

    # --- 2. Elements and development process ---------------------------------------------------------
    p = Point("2(a)", "Methods and steps of development, including pre-trained systems and third-party tools")
    for step in plan.pipeline.steps:
        after = f" after {', '.join(md_code(a) for a in step.after)}" if step.after else ""
        p.derived.append(f"Pipeline step {md_code(step.name)}{after}: {md_code(' '.join(step.command + step.args))}"
                         f" in {md_code(step.image)}.")
    schedule = md_code(plan.pipeline.schedule) + " (UTC)" if plan.pipeline.schedule else "on demand"
    p.derived.append(f"Schedule: {schedule}.")
    p.todo.append("name any pre-trained model or third-party tool used and how it was integrated or modified.")
    out.append(p)

    p = Point("2(b)", "Design specifications: general logic, key design choices, optimisation target, trade-offs")
    p.derived.append(f"Framework {md_code(model.framework)}; optimised against the gates in point 2(g).")
    p.todo.append("describe the general logic of the model, the key design choices with their rationale and "
                  "assumptions about the persons it is used on, and the trade-offs made.")
    out.append(p)

    p = Point("2(c)", "System architecture and computational resources used to develop, train, test and validate")
    for step in plan.pipeline.steps:
        r = step.resources
        p.derived.append(f"{md_code(step.name)}: {_resources(r.cpu, r.memory, r.gpu, r.gpu_type)}, "
                         f"{step.retries} retries.")
    out.append(p)

    p = Point("2(d)", "Data requirements: datasheets, provenance, scope, characteristics, labelling, cleaning")
    p.derived.append(f"Dataset {md_code(data.dataset)} version {md_code(data.version)}, pinned by {md_code(data.hash)} "
                     f"at {md_code(data.location)}"
                     + (f"; data registry {md_code(data.registry_repo)} at {md_code(data.registry_commit)}"
                        if data.registry_repo and data.registry_commit else "") + ".")
    for title, text in (("Training data", card.training_data), ("Evaluation data", card.evaluation_data)):
        if text:
            p.derived.append(f"{title}: {md_inline(text)}")
        else:
            p.todo.append(f"describe the {title.lower()} (spec: `modelCard.{title.split()[0].lower()}Data`).")
    p.todo.append("document how the data was obtained and selected, labelled and cleaned (Art. 10).")
    out.append(p)

    p = Point("2(e)", "Assessment of the human oversight measures (Art. 14)")
    production = [e for e in plan.serving.environments if e.approval_required]
    if production:
        p.derived.append("Deploying to " + ", ".join(md_code(e.name) for e in production)
                         + f" waits for a human approval by {approvers}.")
    p.derived.append(f"On call: {oncall}; critical monitors page them and a person can stop the rollout at any stage.")
    if plan.rollout is not None and plan.rollout.rollback_on:
        p.derived.append("Automatic rollback when any of " + ", ".join(md_code(m) for m in plan.rollout.rollback_on)
                         + " fires.")
    p.todo.append("assess whether these measures let the overseers understand, interpret and override the output.")
    out.append(p)

    p = Point("2(f)", "Pre-determined changes to the system and its performance")
    retraining = plan.pipeline.retraining
    if retraining is not None:
        triggers = [f"monitors {', '.join(md_code(m) for m in retraining.monitors)}" if retraining.monitors else "",
                    "data changes" if retraining.on_data_change else ""]
        p.derived.append("Retraining on " + (" or ".join(t for t in triggers if t) or "demand")
                         + f", at most once per {format_duration(retraining.cooldown_seconds * 1000)}; every retrained "
                         "candidate passes the same gates.")
    if plan.rollout is not None:
        p.derived.append(f"Rollout in {md_code(plan.rollout.environment)}: "
                         + ", ".join(md_code(s.name) for s in plan.rollout.stages) + ".")
    p.todo.append("state which changes are pre-determined and assessed in advance, and which need a new assessment.")
    out.append(p)

    p = Point("2(g)", "Validation and testing procedures, metrics, test logs and reports")
    if plan.gates:
        p.derived.append(f"Step {md_code(plan.pipeline.evaluation_step)} reports the metrics; a candidate that fails "
                         "any gate is not registered and never deployed:")
        p.derived.extend(f"  gate {md_code(gate_rule(g))} ({g.kind}, {g.direction} is better)" for g in plan.gates)
    p.derived.append(f"Results: each candidate's measured metrics and gate verdicts are appended to the audit trail "
                     f"that chains to {md_code(audit_path)}.")
    p.todo.append("attach the dated and signed test reports of the released version.")
    out.append(p)

    p = Point("2(h)", "Cybersecurity measures")
    p.derived.append("Models, data and code are pinned by digest or immutable version; secrets are references only.")
    p.todo.append("describe the threat model and the measures against data poisoning, adversarial inputs and "
                  "model extraction (Art. 15).")
    out.append(p)

    # --- 3-9 -----------------------------------------------------------------------------------------------
    p = Point("3", "Monitoring, functioning and control: capabilities, limitations, accuracy, risks, input data")
    if card.limitations:
        p.derived.append(f"Limitations: {md_inline(card.limitations)}")
    declared = [g for g in plan.gates if g.min is not None or g.max is not None]
    if declared:
        p.derived.append("Declared levels (Art. 15): " + ", ".join(md_code(gate_rule(g)) for g in declared) + ".")
    else:
        p.todo.append("declare the expected level of accuracy (no gate has an absolute threshold).")
    if card.ethical_considerations:
        p.derived.append(f"Foreseeable risks: {md_inline(card.ethical_considerations)}")
    else:
        p.todo.append("describe foreseeable unintended outcomes and risks to health, safety and fundamental rights "
                      "(spec: `modelCard.ethicalConsiderations`).")
    if data.features:
        p.derived.append("Input data: " + ", ".join(
            md_code(f.name) + f" ({f.type}" + ("" if f.nullable else ", required") + ")" for f in data.features) + ".")
    p.todo.append("state the accuracy for the specific persons or groups the system is used on.")
    out.append(p)

    p = Point("4", "Appropriateness of the performance metrics")
    if plan.gates:
        p.derived.append("Metrics: " + ", ".join(md_code(g.metric) for g in plan.gates) + ".")
    p.todo.append("explain why these metrics and thresholds fit the intended purpose.")
    out.append(p)

    p = Point("5", "Risk management system (Art. 9)")
    p.todo.append("describe the risk management system or link to it.")
    out.append(p)

    p = Point("6", "Relevant changes made by the provider through the lifecycle")
    p.derived.append(f"Every change is a reviewed commit to {md_code(plan.provenance.spec_path)}; deployments, "
                     f"promotions and rollbacks are appended to the audit trail seeded by {md_code(audit_path)}.")
    p.todo.append("summarise the relevant changes since the previous version.")
    out.append(p)

    p = Point("7", "Harmonised standards applied, or the solutions adopted to meet Chapter III, Section 2")
    p.todo.append("list the harmonised standards or other specifications applied.")
    out.append(p)

    p = Point("8", "Copy of the EU declaration of conformity (Art. 47)")
    p.todo.append("attach the signed EU declaration of conformity.")
    out.append(p)

    p = Point("9", "Post-market monitoring system and plan (Art. 72)")
    for m in plan.monitors:
        extra = f", runbook {md_code(m.runbook)}" if m.runbook else ""
        retrain = ", starts retraining" if m.retrain else ""
        p.derived.append(f"Monitor {md_code(m.name)} ({m.kind}, {m.severity}) over {md_code(m.window)}, routed to "
                         f"team {md_code(m.team)}{extra}{retrain}.")
    if not plan.monitors:
        p.todo.append("define monitors: a high-risk system needs a post-market monitoring plan.")
    p.derived.append(f"Payload logging is {'on' if plan.serving.payload_logging else 'off'}; logs and deployment "
                     f"records are kept {settings.log_retention_days} days (Art. 12, 19, 26).")
    p.todo.append("describe how deployer feedback and serious incidents (Art. 73) reach the provider.")
    out.append(p)
    return out


def _bullet(line: str) -> str:
    # An indented derived line is a sub-item of the previous one.
    return f"  - {line[2:]}" if line.startswith("  ") else f"- {line}"


def render(plan: Plan, settings: GovernanceSettings, card_path: str, audit_path: str, notice: str) -> str:
    lines = [
        f"# EU AI Act Annex IV technical documentation: {md_text(plan.name)}",
        "",
        f"<!-- {notice} -->",
        "",
        "Technical documentation of a high-risk AI system (Regulation (EU) 2024/1689, Art. 11(1) and Annex IV), "
        "numbered as in Annex IV. What the spec determines is filled in; items marked "
        f"{TODO} must be written by a person before the system is placed on the market or put into service.",
        "",
    ]
    pts = points(plan, settings, card_path, audit_path)
    for point in pts:
        lines += [f"## {point.number} {point.title}", ""]
        lines += [_bullet(line) for line in point.derived]
        lines += [f"- {TODO} {item}" for item in point.todo]
        lines.append("")
    lines += ["## Still to be written", ""]
    lines += [f"- [ ] {point.number}: {item}" for point in pts for item in point.todo]
    return "\n".join(lines).rstrip("\n") + "\n"

