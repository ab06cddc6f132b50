"""KServe's admission-webhook rules, and settings combinations the cluster would silently ignore,
re-implemented as plan checks. Every diagnostic points into the spec, where the fix belongs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Severity
from compiler.planning.plan import Plan, StagePlan
from compiler.planning.serving_names import (
    CANARY_PREDICTOR,
    LLM_CANARY_SUFFIX,
    SHADOW_SUFFIX,
    predictor_service,
    served_model_name,
)
from targets.kserve.runtimes import BUILTIN, resolve
from targets.kserve.settings import KServeSettings

CODES: dict[str, str] = {
    "KSV001": "The model name is not a valid InferenceService name (a DNS-1035 label: starts with a letter).",
    "KSV002": "The model name plus the suffixes KServe appends (-shadow or -canary, -predictor) exceeds 63 "
              "characters.",
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
    "KSV020": "The shadow runs a runtime mlspec does not know: it may serve the model under the shadow's own "
              "name, and every mirrored request would get 404.",
    "KSV040": "serving.kind `llm` (LLMInferenceService, vLLM) serves huggingface models only.",
    "KSV041": "LLMInferenceService has no traffic mirroring: a shadow stage cannot be rendered for kind `llm`.",
    "KSV042": "LLMInferenceService (serving.kserve.io/v1alpha2 with weighted route groups) needs KServe >= 0.20.",
    "KSV043": "A serving choice that does not apply to an LLMInferenceService (deployment mode, mirroring, "
              "protocol, runtime) is ignored.",
    "KSV044": "LLMInferenceService autoscaling needs the Workload Variant Autoscaler: fixed replicas (the "
              "minimum) are rendered.",
    "KSV045": "serving.llm is set but serving.kind is not `llm`: it is ignored.",
    "KSV046": "LLMInferenceService has no payload logger: requests and responses are not logged.",
    "KSV047": "serving.kind `llm` serves realtime requests only; streaming needs an InferenceService.",
    "KSV048": "Mutual TLS to Kafka needs both the client certificate and its key.",
}

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
HPA_METRICS = ("cpu", "memory")
ROLLBACK = "rollback"


def _err(code: str, path: tuple[str | int, ...], message: str, hint: str | None = None,
         severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic(code, message, severity=severity, path=path, hint=hint)


def serves_live(plan: Plan) -> bool:
    return plan.serving.pattern in ("realtime", "streaming")


def has_previous(plan: Plan) -> bool:
    return plan.model.previous_version is not None and plan.model.previous_uri is not None


def is_llm(plan: Plan) -> bool:
    return plan.serving.kind == "llm"


def check(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    if plan.serving.llm is not None and not is_llm(plan):
        yield _err("KSV045", ("serving", "llm"), "serving.llm applies to serving.kind: llm only; it is ignored",
                   "add serving.kind: llm, or remove serving.llm", Severity.WARNING)
    if not serves_live(plan):
        return
    yield from _name(plan, settings)
    yield from _stream(plan)
    if is_llm(plan):
        yield from _llm(plan, settings)
        return
    yield from _runtime(plan)
    yield from _environments(plan, settings)
    yield from _rollout(plan, settings)


def _llm(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    """What an LLMInferenceService can and cannot do, said at lint time rather than by a cluster that
    prunes or ignores the field."""
    if plan.model.framework != "huggingface":
        yield _err("KSV040", ("serving", "kind"),
                   f"framework {plan.model.framework!r} cannot be served on LLMInferenceService, which runs vLLM",
                   "use framework: huggingface, or remove serving.kind: llm")
    if plan.serving.pattern != "realtime":
        yield _err("KSV047", ("serving", "pattern"),
                   f"pattern {plan.serving.pattern!r} with serving.kind: llm; LLMInferenceService answers "
                   "OpenAI-style HTTP requests only",
                   "use pattern: realtime, or remove serving.kind: llm")
    if not settings.spec_canary:
        yield _err("KSV042", ("serving", "kind"),
                   f"KServe {settings.version} does not serve serving.kserve.io/v1alpha2 LLMInferenceService "
                   "with route groups (both arrived in 0.20)",
                   "set serving.kserve.version (or targets.kserve.version) to 0.20 or later if the cluster "
                   "runs it, or remove serving.kind: llm")
    ignored: list[tuple[tuple[str | int, ...], str]] = [
        (("serving", "kserve", key), "LLMInferenceService has no deploymentMode and no mirroring")
        for key in ("mode", "mirroring") if key in dict(plan.serving.kserve)]
    if plan.serving.protocol is not None:
        ignored.append((("serving", "protocol"), "vLLM serves the OpenAI API, not the v1/v2 inference protocols"))
    if plan.model.runtime is not None:
        ignored.append((("model", "runtime"), "LLMInferenceService runs vLLM; presets go in serving.llm.configs"))
    for path, why in ignored:
        dotted = ".".join(str(p) for p in path)
        yield _err("KSV043", path, f"{dotted} has no effect with serving.kind: llm: {why}", f"remove {dotted}",
                   Severity.WARNING)
    if plan.serving.payload_logging:
        yield _err("KSV046", ("serving", "payloadLogging"),
                   "LLMInferenceService has no `logger`: payload logging is not rendered",
                   "log prompts and completions in the application or the gateway, or set "
                   "payloadLogging: false to say so", Severity.WARNING)
    for env in plan.serving.environments:
        if env.replicas_max > env.replicas_min:
            yield _err("KSV044", ("serving", "environments", env.name),
                       f"{env.name}: replicas {env.replicas_min}-{env.replicas_max}, but LLMInferenceService "
                       f"scales only through spec.scaling.wva; rendering replicas: {env.replicas_min}",
                       "set replicas.min equal to replicas.max to state the fixed size", Severity.WARNING)
    rollout = plan.rollout
    if rollout is not None:
        if any(s.kind == "shadow" for s in rollout.stages):
            yield _err("KSV041", ("rollout", "shadow"),
                       "an LLMInferenceService route has weights but no mirror filter, and its managed "
                       "HTTPRoute cannot carry one: the shadow stage cannot be rendered",
                       "remove rollout.shadow; test the candidate with a canary stage at a small weight")
        for i, stage in enumerate(s for s in rollout.stages if s.kind == "canary"):
            if not float(stage.traffic).is_integer():
                yield _err("KSV008", ("rollout", "canary", i, "traffic"),
                           f"canary traffic {stage.traffic:g}% is not a whole percent")
        if not has_previous(plan) and len(rollout.stages) > 1:
            yield _err("KSV009", ("model",),
                       "no model.previous: canary stages need the version in production; "
                       "only `full` is rendered and there is no rollback form",
                       "set model.previous (omit it only for a first deployment)", Severity.WARNING)


def _stream(plan: Plan) -> Iterator[Diagnostic]:
    stream = plan.serving.stream
    if stream is None or stream.tls is None:
        return
    if (stream.tls.cert is None) != (stream.tls.key is None):
        missing = "key" if stream.tls.key is None else "cert"
        yield _err("KSV048", ("serving", "stream", "tls"),
                   f"serving.stream.tls has {'cert' if missing == 'key' else 'key'} but no {missing}: a client "
                   "certificate is useless without its private key",
                   f"add serving.stream.tls.{missing} (a secretRef), or remove the other for server-only TLS")


def longest_name(plan: Plan, settings: KServeSettings | None = None) -> str:
    """The longest object name KServe derives from the model: the shadow's predictor Service, or a
    Standard-mode canary's (`<model>-canary-predictor`)."""
    kinds = {s.kind for s in plan.rollout.stages} if plan.rollout is not None else set()
    if "shadow" in kinds:
        return predictor_service(plan.name + SHADOW_SUFFIX)
    if is_llm(plan):  # KServe shortens the names it derives from an LLMInferenceService (kmeta.ChildName)
        return plan.name + LLM_CANARY_SUFFIX if "canary" in kinds else plan.name
    if "canary" in kinds and settings is not None and settings.mode == "Standard":
        return predictor_service(plan.name, CANARY_PREDICTOR)
    return predictor_service(plan.name)


def _name(plan: Plan, settings: KServeSettings) -> Iterator[Diagnostic]:
    if not NAME_RE.fullmatch(plan.name):
        yield _err("KSV001", ("metadata", "name"),
                   f"{plan.name!r} is not a valid InferenceService name: it must start with a letter",
                   "KServe's webhook requires /^[a-z]([-a-z0-9]*[a-z0-9])?$/")
    longest = longest_name(plan, settings)
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
    if builtin is None and plan.rollout is not None and has_previous(plan) \
            and any(s.kind == "shadow" for s in plan.rollout.stages):
        yield _err("KSV020", ("rollout", "shadow"),
                   f"mirrored requests keep their path (model name {served_model_name(plan)!r}), but runtime "
                   f"{serving.runtime!r} is not a KServe built-in, so mlspec cannot make the shadow "
                   f"{plan.name}{SHADOW_SUFFIX} serve that model name",
                   "make your ServingRuntime serve the model under a name that does not come from the "
                   "InferenceService name ({{.Name}}), for example from the model repository",
                   Severity.WARNING)
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
                       "set autoscaling.metric to cpu or memory, or serving.kserve.mode: Knative for this "
                       "model",
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
                   "set serving.kserve.mode: Knative for this model (targets.kserve.mode for all), or "
                   "serving.kserve.version 0.20 or later if its cluster runs it")
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
    if active is not None and active not in (names := rendered_stages(plan)):  # None without rollout state (lint)
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
