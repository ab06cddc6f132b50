"""What a KServe v0.20.0 cluster does with a rendered InferenceService, for the tests: the model server's
command line, the host and Service names, what a mirror delivers, and the canary webhook rules.

Facts from kserve/kserve at tag v0.20.0 (read there, not guessed):
- config/runtimes/kserve-{sklearn,xgb,lgb,pmml,paddle}server.yaml: the container args below.
- pkg/controller/v1beta1/inferenceservice/utils/utils.go: `ReplacePlaceholders` renders the runtime
  container as a Go template over the InferenceService's ObjectMeta; `MergeRuntimeContainers`
  concatenates args, runtime first, then `spec.predictor.model.args`.
- pkg/controller/v1beta1/inferenceservice/components/predictor.go: a Standard-mode canary is the
  stable predictor with the `spec.canary[]` entry merged over it (mergo, override), rendered for a
  copy of the same InferenceService (so `{{.Name}}` is the primary's name); its Deployment and Service
  are `<isvc>-<canary name>-predictor`.
- pkg/apis/serving/v1beta1/inference_service_validation.go: `validateCanarySpecs`.
- The default ingress `domainTemplate` is `{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}`.
"""

from __future__ import annotations

import re
from typing import Any

# The `args` of the kserve-container in the ClusterServingRuntimes that start KServe's Python server.
RUNTIME_ARGS: dict[str, list[str]] = {
    runtime: ["--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"]
    for runtime in ("kserve-sklearnserver", "kserve-xgbserver", "kserve-lgbserver", "kserve-pmmlserver",
                    "kserve-paddleserver")
}
DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def _fill(template: str, meta: dict[str, Any]) -> str:
    fields = {"Name": meta["name"], "Namespace": meta.get("namespace", "")}
    return _PLACEHOLDER.sub(lambda m: str(fields[m.group(1)]), template)


def predictor_args(isvc: dict[str, Any], canary: int | None = None) -> list[str]:
    """The model server's command line for `spec.predictor` (or `spec.canary[canary]`), with the
    runtime's port replaced by the caller."""
    predictor = isvc["spec"]["predictor"]
    model = dict(predictor["model"])
    if canary is not None:  # mergo.Merge(..., WithOverride): a non-empty canary field wins
        model.update({k: v for k, v in isvc["spec"]["canary"][canary]["predictor"]["model"].items() if v})
    runtime = RUNTIME_ARGS[model["runtime"]]
    return [_fill(arg, isvc["metadata"]) for arg in runtime] + list(model.get("args", []))


def host(isvc: dict[str, Any], ingress_domain: str, template: str = DEFAULT_DOMAIN_TEMPLATE) -> str:
    meta = isvc["metadata"]
    fields = {"Name": meta["name"], "Namespace": meta["namespace"], "IngressDomain": ingress_domain}
    return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], template)


def predictor_service(isvc_name: str, predictor_name: str | None = None) -> str:
    return f"{isvc_name}-{predictor_name}-predictor" if predictor_name else f"{isvc_name}-predictor"


def canary_webhook_errors(isvc: dict[str, Any]) -> list[str]:
    """`validateCanarySpecs` of KServe v0.20.0, rule by rule (the CRD schema encodes none of them)."""
    canaries = isvc["spec"].get("canary") or []
    if not canaries:
        return []
    errors = []
    if isvc["metadata"].get("annotations", {}).get("serving.kserve.io/deploymentMode") != "Standard":
        errors.append("canary is only supported in Standard deployment mode")
    stable = isvc["spec"]["predictor"]
    names: set[str] = set()
    total = 0
    for i, entry in enumerate(canaries):
        predictor = entry["predictor"]
        name = predictor.get("name", "")
        if not name:
            errors.append(f"canary[{i}] predictor.name is required")
        elif name in names:
            errors.append(f"canary predictor.name {name!r} is duplicated")
        elif name == stable.get("name"):
            errors.append(f"canary predictor.name {name!r} conflicts with stable predictor name")
        names.add(name)
        percent = entry["trafficPercent"]
        if not 0 <= percent <= 100:
            errors.append(f"canary {name!r} trafficPercent must be between 0 and 100")
        total += percent
        for field in ("workerSpec", "maxReplicas", "scaleTarget", "scaleMetric", "autoScaling"):
            if predictor.get(field):
                errors.append(f"canary {name!r} must not set {field}")
        if "minReplicas" in predictor and predictor["minReplicas"] > stable.get("minReplicas", 1):
            errors.append(f"canary {name!r} minReplicas must not exceed stable predictor minReplicas")
    if total > 100:
        errors.append(f"sum of canary trafficPercent values ({total}) must be <= 100")
    return errors
