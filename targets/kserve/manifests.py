"""The Kubernetes objects of the kserve target, as data: one builder per kind.

Builders take the plan plus already-made decisions (which version, which stage) and return dicts in
the key order a reader expects; they never decide rollout policy themselves (see `layout`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from compiler import provenance
from compiler.feature_store import feature_store_env
from compiler.plan import EnvironmentPlan, Plan
from targets.kserve.checks import HPA_METRICS, PREDICTOR_SUFFIX, SHADOW_SUFFIX
from targets.kserve.runtimes import Serving
from targets.kserve.settings import KServeSettings

ISVC_API = "serving.kserve.io/v1beta1"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
STAGE_ANNOTATION = f"{provenance.PREFIX}/rollout-stage"
SERVES_ANNOTATION = f"{provenance.PREFIX}/serving-model-version"
PREDICTOR_PORT = 80


def mode_value(settings: KServeSettings) -> str:
    # KServe 0.15 renamed the modes (RawDeployment -> Standard, Serverless -> Knative); older
    # controllers do not know the new names and would fall back to their configured default.
    if settings.version_tuple >= (0, 15):
        return settings.mode
    return "RawDeployment" if settings.mode == "Standard" else "Serverless"


def service_account_name(plan: Plan) -> str:
    return f"{plan.name}-serving"


def shadow_name(plan: Plan) -> str:
    return plan.name + SHADOW_SUFFIX


def _meta(plan: Plan, name: str, namespace: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    meta = provenance.metadata(plan, name, namespace)
    if extra:
        annotations = meta["annotations"]
        assert isinstance(annotations, dict)
        annotations.update(extra)
    return meta


def resources(env: EnvironmentPlan) -> dict[str, Any]:
    """Requests equal limits (Guaranteed QoS): latency of a model server should not depend on neighbours."""
    res = env.resources
    requests: dict[str, Any] = {}
    if res.cpu:
        requests["cpu"] = res.cpu
    if res.memory:
        requests["memory"] = res.memory
    limits = dict(requests)
    if res.gpu:
        limits[res.gpu_type] = str(res.gpu)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def predictor(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, serving: Serving,
              storage_uri: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"minReplicas": env.replicas_min, "maxReplicas": env.replicas_max}
    if settings.mode == "Knative" or env.autoscaling_metric in HPA_METRICS:
        spec["scaleMetric"] = env.autoscaling_metric
        spec["scaleTarget"] = env.autoscaling_target
    spec["serviceAccountName"] = service_account_name(plan)
    if plan.serving.payload_logging:
        spec["logger"] = {"mode": settings.loggerMode, "url": settings.loggerUrl}
    model: dict[str, Any] = {"modelFormat": {"name": serving.format}, "runtime": serving.runtime}
    if serving.protocol is not None:
        model["protocolVersion"] = serving.protocol
    model["storageUri"] = storage_uri
    if feature_store_env(plan):
        model["env"] = feature_store_env(plan)
    res = resources(env)
    if res:
        model["resources"] = res
    spec["model"] = model
    return spec


def inference_service(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, *, name: str,
                      predictor_spec: dict[str, Any], serves: str, stage: str | None,
                      canary: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    extra = {MODE_ANNOTATION: mode_value(settings), SERVES_ANNOTATION: serves}
    if stage is not None:
        extra[STAGE_ANNOTATION] = stage
    spec: dict[str, Any] = {"predictor": predictor_spec}
    if canary:
        spec["canary"] = canary
    return {"apiVersion": ISVC_API, "kind": "InferenceService",
            "metadata": _meta(plan, name, env.namespace, extra), "spec": spec}


def service_account(plan: Plan, env: EnvironmentPlan, settings: KServeSettings) -> dict[str, Any]:
    """KServe's storage initializer reads credentials from the Secrets listed on the predictor's SA."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": _meta(plan, service_account_name(plan), env.namespace),
            "secrets": [{"name": settings.secret_name(plan.name)}]}


def _predictor_host(name: str, namespace: str) -> str:
    return f"{name}{PREDICTOR_SUFFIX}.{namespace}.svc.cluster.local"


def mirror_host(plan: Plan, env: EnvironmentPlan, settings: KServeSettings) -> str:
    return f"{plan.name}.{env.namespace}.{settings.domain}"


def virtual_service(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, mirror: float,
                    stage: str) -> dict[str, Any]:
    gateway = settings.gateway
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": _meta(plan, f"{plan.name}-mirror", env.namespace, {STAGE_ANNOTATION: stage}),
        "spec": {
            "hosts": [mirror_host(plan, env, settings)],
            "gateways": [f"{gateway.namespace}/{gateway.name}"],
            "http": [{
                "route": [{"destination": {"host": _predictor_host(plan.name, env.namespace),
                                           "port": {"number": PREDICTOR_PORT}}}],
                "mirror": {"host": _predictor_host(shadow_name(plan), env.namespace),
                           "port": {"number": PREDICTOR_PORT}},
                "mirrorPercentage": {"value": float(mirror)},
            }],
        },
    }


def http_route(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, mirror: float,
               stage: str) -> dict[str, Any]:
    mirror_filter: dict[str, Any] = {
        "backendRef": {"name": shadow_name(plan) + PREDICTOR_SUFFIX, "port": PREDICTOR_PORT}}
    if float(mirror).is_integer():
        mirror_filter["percent"] = int(mirror)
    else:  # `percent` is an integer; a fractional share needs the fraction form
        share = Fraction(str(mirror)) / 100
        mirror_filter["fraction"] = {"numerator": share.numerator, "denominator": share.denominator}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": _meta(plan, f"{plan.name}-mirror", env.namespace, {STAGE_ANNOTATION: stage}),
        "spec": {
            "parentRefs": [{"name": settings.gateway.name, "namespace": settings.gateway.namespace}],
            "hostnames": [mirror_host(plan, env, settings)],
            "rules": [{
                "filters": [{"type": "RequestMirror", "requestMirror": mirror_filter}],
                "backendRefs": [{"name": plan.name + PREDICTOR_SUFFIX, "port": PREDICTOR_PORT}],
            }],
        },
    }


def kafka_source(plan: Plan, env: EnvironmentPlan, serving: Serving) -> dict[str, Any]:
    """Knative eventing's KafkaSource delivering each record as a CloudEvent to the predictor."""
    stream = plan.serving.stream
    assert stream is not None
    if serving.protocol in ("v2", "grpc-v2"):  # the Kafka sink is HTTP; v2 runtimes also serve REST
        path = f"/v2/models/{plan.name}/infer"
    else:
        path = f"/v1/models/{plan.name}:predict"
    return {
        "apiVersion": "sources.knative.dev/v1beta1", "kind": "KafkaSource",
        "metadata": _meta(plan, f"{plan.name}-stream", env.namespace),
        "spec": {
            "consumerGroup": stream.consumer_group,
            "bootstrapServers": list(stream.bootstrap_servers),
            "topics": [stream.topic],
            "sink": {"uri": f"http://{_predictor_host(plan.name, env.namespace)}{path}"},
        },
    }


def kustomization(resources_: list[str], namespace: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace is not None:
        doc["namespace"] = namespace
    doc["resources"] = resources_
    return doc
