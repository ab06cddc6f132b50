"""KServe's admission-webhook rules, and settings combinations the cluster would silently ignore,
re-implemented as plan checks. Every diagnostic points into the spec, where the fix belongs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Severity
from compiler.plan import Plan, StagePlan
from targets.kserve.runtimes import BUILTIN, resolve
from targets.kserve.settings import KServeSettings

CODES: dict[str, str] = {
    "KSV001": "The model name is not a valid InferenceService name (a DNS-1035 label: starts with a letter).",
    "KSV002": "The model name plus the suffixes KServe appends (-shadow, -predictor) exceeds 63 characters.",
    "KSV003": "minReplicas is larger than maxReplicas.",
    "KSV004": "The serving runtime does not support the requested protocol.",
    "KSV005": "The serving runtime does not serve the model's framework.",
    "KSV006": "Framework `custom` needs model.runtime (the name of your ServingRuntime).",
    "KSV007": "A canary in Standard mode needs KServe >= 0.20 (spec.canary); older clusters ignore it.",
    "KSV008": "Canary traffic must be a whole percent: KServe's traffic fields are integers.",
    "KSV009": "The rollout has no previous model version: only the `full` stage is rendered, no rollback.",
    "KSV010": "Standard mode autoscales with an HPA on cpu or memory; concurrency/rps are not rendered.",
    "KSV011": "The rollout state names a stage this model's rollout does not have: it restarts at the first stage.",
    "KSV012": "A cpu or memory scale target is a utilization percentage between 1 and 100.",
    "KSV013": "The runtime is not a KServe built-in but a built-in's name minus `kserve-`: probably a typo.",
}

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
SHADOW_SUFFIX = "-shadow"
PREDICTOR_SUFFIX = "-predictor"
HPA_METRICS = ("cpu", "memory")
ROLLBACK = "rollback"


def _err(code: str, path: tuple[str | int, ...], message: str, hint: str | None = None,
         severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic(code, message, severity=severity, path=path, hint=hint)


def serves_live(plan: Plan) -> bool:
    return plan.serving.pattern in ("realtime", "streaming")


def has_previous(plan: Plan) -> bool:
    return plan.model.previous_version is not None and plan.model.previous_uri is not None


def check(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    if not serves_live(plan):
        return
    yield from _name(plan)
    yield from _runtime(plan)
    yield from _environments(plan, settings)
    yield from _rollout(plan, settings)


def longest_name(plan: Plan) -> str:
    """The longest object name KServe derives from the model: the shadow's predictor Service."""
    shadow = plan.rollout is not None and any(s.kind == "shadow" for s in plan.rollout.stages)
    return plan.name + (SHADOW_SUFFIX if shadow else "") + PREDICTOR_SUFFIX


def _name(plan: Plan) -> Iterator[Diagnostic]:
    if not NAME_RE.fullmatch(plan.name):
        yield _err("KSV001", ("metadata", "name"),
                   f"{plan.name!r} is not a valid InferenceService name: it must start with a letter",
                   "KServe's webhook requires /^[a-z]([-a-z0-9]*[a-z0-9])?$/")
    longest = longest_name(plan)
    if len(longest) > MAX_NAME:
        yield _err("KSV002", ("metadata", "name"),
                   f"KServe derives {longest!r} ({len(longest)} characters) from the name; at most {MAX_NAME} fit",
                   f"shorten metadata.name to at most {MAX_NAME - len(longest) + len(plan.name)} characters")


def _runtime(plan: Plan) -> Iterator[Diagnostic]:
    model, protocol = plan.model, plan.serving.protocol
    serving = resolve(model.framework, model.runtime, protocol)
    if serving is None:
        yield _err("KSV006", ("model", "framework"), "framework `custom` has no serving runtime",
                   "set model.runtime to the name of the ServingRuntime that serves it")
        return
    builtin = serving.builtin
    if builtin is None:
        if f"kserve-{serving.runtime}" in BUILTIN:
            yield _err("KSV013", ("model", "runtime"),
                       f"runtime {serving.runtime!r} is not installed by KServe; the built-in one is "
                       f"'kserve-{serving.runtime}'",
                       "ignore this if you installed a ServingRuntime of that name yourself",
                       Severity.WARNING)
        return
    if model.runtime is not None and serving.format not in builtin.formats:
        yield _err("KSV005", ("model", "runtime"),
                   f"runtime {builtin.name!r} does not serve {serving.format!r} models",
                   f"it serves {', '.join(builtin.formats)}; remove the override to use the default")
    if protocol is not None and protocol not in builtin.protocols:
        yield _err("KSV004", ("serving", "protocol"),
                   f"runtime {builtin.name!r} does not support protocol {protocol!r}",
                   f"it supports {', '.join(builtin.protocols)}")


def _environments(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    for env in plan.serving.environments:
        base: tuple[str | int, ...] = ("serving", "environments", env.name)
        if env.replicas_min > env.replicas_max:
            yield _err("KSV003", (*base, "replicas"),
                       f"minReplicas {env.replicas_min} is larger than maxReplicas {env.replicas_max}")
        metric = env.autoscaling_metric
        if settings.mode == "Standard" and metric not in HPA_METRICS:
            yield _err("KSV010", (*base, "autoscaling", "metric"),
                       f"Standard mode cannot scale on {metric!r}; the HPA default (cpu) applies in {env.name}",
                       "set autoscaling.metric to cpu or memory, or targets.kserve.mode: Knative",
                       Severity.WARNING)
        elif metric in HPA_METRICS and not 1 <= env.autoscaling_target <= 100:
            yield _err("KSV012", (*base, "autoscaling", "target"),
                       f"{metric} target {env.autoscaling_target} is not a utilization percentage (1-100)")


def _rollout(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    rollout = plan.rollout
    if rollout is None:
        return
    canaries = [s for s in rollout.stages if s.kind == "canary"]
    if canaries and settings.mode == "Standard" and not settings.spec_canary:
        yield _err("KSV007", ("rollout", "canary"),
                   f"KServe {settings.version} in Standard mode silently ignores canary traffic "
                   "(canaryTrafficPercent is Knative-only; spec.canary arrived in 0.20)",
                   "set targets.kserve.mode: Knative, or version 0.20 or later if the cluster runs it")
    for i, stage in enumerate(canaries):
        if not float(stage.traffic).is_integer():
            yield _err("KSV008", ("rollout", "canary", i, "traffic"),
                       f"canary traffic {stage.traffic:g}% is not a whole percent")
    if not has_previous(plan) and len(rollout.stages) > 1:
        yield _err("KSV009", ("model",),
                   "no model.previous: shadow and canary stages need the version in production; "
                   "only `full` is rendered and there is no rollback form",
                   "set model.previous (omit it only for a first deployment)", Severity.WARNING)
    active = rollout.active_stage
    names = rendered_stages(plan)
    if active is not None and active not in names:
        # A warning, not an error: refusing would block every commit of the deployment repository,
        # and the first stage is the safe place for a rollout whose stage list changed under it.
        yield _err("KSV011", ("rollout",),
                   f"the deployment repository's rollout state says {plan.name} {plan.model.version} is at "
                   f"stage {active!r}, which is not one of {', '.join(names)}; rendering the first stage",
                   "run `mlspec rollout status` and advance again", Severity.WARNING)


def rendered_stages(plan: Plan) -> list[str]:
    """Names of the stage directories of the rollout environment, `rollback` last when there is one."""
    return [s.name for s in stages(plan)] + ([ROLLBACK] if has_previous(plan) and plan.rollout else [])


def stages(plan: Plan) -> list[StagePlan]:
    """Stages that are rendered: all of them with a previous version, else only `full`."""
    if plan.rollout is None:
        return []
    if has_previous(plan):
        return list(plan.rollout.stages)
    return [s for s in plan.rollout.stages if s.kind == "full"]
