"""The Kubernetes objects of the kserve target, as data: one builder per kind.

Builders take the plan plus already-made decisions (which version, which stage) and return dicts in
the key order a reader expects; they never decide rollout policy themselves (see `layout`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from compiler.planning import serving_names as names
from compiler.planning.feature_store import feature_store_env
from compiler.planning.plan import EnvironmentPlan, Plan, SecretKeyPlan
from compiler.render import provenance
from targets.kserve.checks import HPA_METRICS
from targets.kserve.runtimes import ARGS, ENV, Serving
from targets.kserve.settings import KServeSettings

ISVC_API = "serving.kserve.io/v1beta1"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
STAGE_ANNOTATION = f"{provenance.PREFIX}/rollout-stage"
SERVES_ANNOTATION = f"{provenance.PREFIX}/serving-model-version"
PREDICTOR_PORT = 80
CONTAINER_NAME = "kserve-container"
MLSERVER_MODEL_NAME = "MLSERVER_MODEL_NAME"
PROMPT_PATH_ENV = "MLSPEC_PROMPT_PATH"
PROMPT_SHA256_ENV = "MLSPEC_PROMPT_SHA256"
OUTPUT_TOPIC_ENV = "MLSPEC_OUTPUT_TOPIC"
BOOTSTRAP_SERVERS_ENV = "MLSPEC_KAFKA_BOOTSTRAP_SERVERS"
KAFKA_ENV_PREFIX = "MLSPEC_KAFKA_"
# Labels that say which model version a pod runs, and the training lineage known only for the new one.
VERSION_LABELS = ("app.kubernetes.io/version", f"{provenance.PREFIX}/model-version")
LINEAGE_LABELS = (f"{provenance.PREFIX}/data-hash", f"{provenance.PREFIX}/code-commit")


def mode_value(settings: KServeSettings) -> str:
    # KServe 0.15 renamed the modes (RawDeployment -> Standard, Serverless -> Knative); older
    # controllers do not know the new names and would fall back to their configured default.
    if settings.version_tuple >= (0, 15):
        return settings.mode
    return "RawDeployment" if settings.mode == "Standard" else "Serverless"


def service_account_name(plan: Plan) -> str:
    return f"{plan.name}-serving"


def shadow_name(plan: Plan) -> str:
    return names.shadow_service_name(plan)


def version_labels(plan: Plan, version: str) -> dict[str, str]:
    """The labels of pods running `version`: KServe copies an InferenceService's labels (and a
    predictor's own `labels`, which win) onto its pods. The plan knows the data hash and code commit
    of the new version only, so pods of the previous version carry no lineage labels."""
    out = {key: provenance.label_value(version) for key in VERSION_LABELS}
    if version == plan.model.version:
        known = provenance.labels(plan)
        out.update({key: known[key] for key in LINEAGE_LABELS})
    return out


def _meta(plan: Plan, name: str, namespace: str, extra: dict[str, str] | None = None,
          serves: str | None = None) -> dict[str, Any]:
    meta = provenance.metadata(plan, name, namespace)
    if serves is not None:  # an object whose pods run one version: label them with it, in place
        served = version_labels(plan, serves)
        labels = meta["labels"]
        assert isinstance(labels, dict)
        meta["labels"] = {key: served.get(key, value) for key, value in labels.items()
                          if key in served or key not in LINEAGE_LABELS}
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
              storage_uri: str, *, model_name: str | None = None) -> dict[str, Any]:
    """`spec.predictor`; `model_name` makes the model server serve that name instead of the
    InferenceService's own (see `model_name_override`)."""
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
    if model_name is not None:
        model.update(model_name_override(serving, model_name))
    # Only the primary publishes scores: `model_name` is set for the shadow, whose answers must not
    # reach the output topic next to production's.
    extra_env = [*feature_store_env(plan), *prompt_env(plan), *(output_env(plan) if model_name is None else [])]
    if extra_env:
        model["env"] = [*model.get("env", []), *extra_env]
    res = resources(env)
    if res:
        model["resources"] = res
    spec["model"] = model
    return spec


def prompt_env(plan: Plan) -> list[dict[str, str]]:
    """The prompt file and its sha256 as environment variables of the model server, so what serves can
    be checked against the prompt that was reviewed (MLSPEC_PROMPT_PATH, MLSPEC_PROMPT_SHA256)."""
    if plan.model.prompt_sha256 is None or plan.model.prompt_path is None:
        return []
    return [{"name": PROMPT_PATH_ENV, "value": plan.model.prompt_path},
            {"name": PROMPT_SHA256_ENV, "value": plan.model.prompt_sha256}]


def model_name_override(serving: Serving, model_name: str) -> dict[str, Any]:
    """Fields of `predictor.model` that make a built-in runtime serve `model_name`.

    KServe appends `model.args` after the runtime's `--model_name={{.Name}}` and the servers' argparse
    keeps the last value; for MLServer KServe sets MLSERVER_MODEL_NAME only when the model does not.
    TorchServe and Triton take the name from the model repository (the same for every predictor), and
    nothing is known about a runtime of your own (warning KSV020)."""
    how = serving.builtin.model_name if serving.builtin is not None else None
    if how == ARGS:
        return {"args": [f"--model_name={model_name}"]}
    if how == ENV:
        return {"env": [{"name": MLSERVER_MODEL_NAME, "value": model_name}]}
    return {}


def inference_service(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, *, name: str,
                      predictor_spec: dict[str, Any], serves: str,
                      canary: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An InferenceService whose `spec.predictor` runs version `serves`.

    No rollout-stage annotation here: KServe copies an InferenceService's annotations and labels into
    the pod template (Standard) or the Knative revision template, so a per-stage value would restart
    the pods at every stage and, in Knative mode, turn the rollback into a new revision instead of a
    traffic shift back to the last rolled-out one. The stage is the directory."""
    extra = {MODE_ANNOTATION: mode_value(settings), SERVES_ANNOTATION: serves}
    spec: dict[str, Any] = {"predictor": predictor_spec}
    if canary:
        spec["canary"] = canary
    return {"apiVersion": ISVC_API, "kind": "InferenceService",
            "metadata": _meta(plan, name, env.namespace, extra, serves=serves), "spec": spec}


def llm_meta(plan: Plan, name: str, namespace: str, serves: str) -> dict[str, Any]:
    """An LLMInferenceService's metadata: no deploymentMode (it has none), the version it serves."""
    return _meta(plan, name, namespace, {SERVES_ANNOTATION: serves}, serves=serves)


def canary_entry(plan: Plan, serving: Serving, percent: int) -> dict[str, Any]:
    """One `spec.canary[]` entry (KServe >= 0.20, Standard mode) running the new version.

    KServe merges the entry over `spec.predictor`, so it carries only what differs: the model and the
    version labels. Its webhook requires `predictor.name` (the canary's Deployment is
    `<isvc>-<name>-predictor`) and refuses maxReplicas, scaleMetric, scaleTarget and autoScaling on a
    canary (fixed replicas: ceil(stable minReplicas x trafficPercent / 100)); the CRD requires a
    container name on the model."""
    model: dict[str, Any] = {"name": CONTAINER_NAME, "modelFormat": {"name": serving.format},
                             "runtime": serving.runtime}
    if serving.protocol is not None:
        model["protocolVersion"] = serving.protocol
    model["storageUri"] = plan.model.uri
    return {"trafficPercent": percent,
            "predictor": {"name": names.CANARY_PREDICTOR, "labels": version_labels(plan, plan.model.version),
                          "model": model}}


def service_account(plan: Plan, env: EnvironmentPlan, settings: KServeSettings) -> dict[str, Any]:
    """KServe's storage initializer reads credentials from the Secrets listed on the predictor's SA."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": _meta(plan, service_account_name(plan), env.namespace),
            "secrets": [{"name": settings.secret_name(plan.name)}]}


def _predictor_host(name: str, namespace: str) -> str:
    return f"{names.predictor_service(name)}.{namespace}.svc.cluster.local"


def mirror_host(plan: Plan, env: EnvironmentPlan, settings: KServeSettings) -> str:
    """The host KServe gives the primary InferenceService (its `domainTemplate`)."""
    return settings.host(plan.name, env.namespace)


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
        "backendRef": {"name": names.predictor_service(shadow_name(plan)), "port": PREDICTOR_PORT}}
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
                "backendRefs": [{"name": names.predictor_service(plan.name), "port": PREDICTOR_PORT}],
            }],
        },
    }


def kafka_source(plan: Plan, env: EnvironmentPlan, serving: Serving) -> dict[str, Any]:
    """Knative eventing's KafkaSource delivering each record as a CloudEvent to the predictor."""
    stream = plan.serving.stream
    assert stream is not None
    model = names.served_model_name(plan)
    # The Kafka sink is HTTP; v2 runtimes also serve REST.
    v2 = serving.protocol in ("v2", "grpc-v2")
    path = f"/v2/models/{model}/infer" if v2 else f"/v1/models/{model}:predict"
    spec: dict[str, Any] = {
        "consumerGroup": consumer_group(plan, env),
        "bootstrapServers": list(stream.bootstrap_servers),
        "topics": [stream.topic],
    }
    net = kafka_net(plan)
    if net:
        spec["net"] = net
    spec["sink"] = {"uri": f"http://{_predictor_host(plan.name, env.namespace)}{path}"}
    return {"apiVersion": "sources.knative.dev/v1beta1", "kind": "KafkaSource",
            "metadata": _meta(plan, f"{plan.name}-stream", env.namespace), "spec": spec}


def _secret_key_ref(ref: SecretKeyPlan) -> dict[str, Any]:
    return {"secretKeyRef": {"name": ref.name, "key": ref.key}}


def kafka_net(plan: Plan) -> dict[str, Any]:
    """KafkaSource `spec.net`: TLS and SASL, every credential a Secret key reference (never a value)."""
    stream = plan.serving.stream
    assert stream is not None
    net: dict[str, Any] = {}
    if stream.sasl is not None:
        sasl: dict[str, Any] = {"enable": True, "user": _secret_key_ref(stream.sasl.user),
                                "password": _secret_key_ref(stream.sasl.password)}
        if stream.sasl.type is not None:
            sasl["type"] = _secret_key_ref(stream.sasl.type)
        net["sasl"] = sasl
    if stream.tls is not None:
        tls: dict[str, Any] = {"enable": True}
        for key, ref in (("caCert", stream.tls.ca_cert), ("cert", stream.tls.cert), ("key", stream.tls.key)):
            if ref is not None:
                tls[key] = _secret_key_ref(ref)
        net["tls"] = tls
    return net


def output_env(plan: Plan) -> list[dict[str, Any]]:
    """Where a streaming model's scores go: the output topic and brokers, for the model server to publish
    to. A KafkaSource drops the sink's replies, so the predictor itself is the producer (docs/kserve.md).
    With TLS or SASL the producer needs the same credentials as the source: the same Secret keys, by
    reference (`valueFrom.secretKeyRef`), never their values."""
    stream = plan.serving.stream
    if stream is None or stream.output_topic is None:
        return []
    out: list[dict[str, Any]] = [{"name": OUTPUT_TOPIC_ENV, "value": stream.output_topic},
                                 {"name": BOOTSTRAP_SERVERS_ENV, "value": ",".join(stream.bootstrap_servers)}]
    refs: list[tuple[str, SecretKeyPlan | None]] = []
    if stream.sasl is not None:
        refs += [("SASL_USER", stream.sasl.user), ("SASL_PASSWORD", stream.sasl.password),
                 ("SASL_MECHANISM", stream.sasl.type)]
    if stream.tls is not None:
        refs += [("TLS_CA_CERT", stream.tls.ca_cert), ("TLS_CERT", stream.tls.cert), ("TLS_KEY", stream.tls.key)]
    out += [{"name": f"{KAFKA_ENV_PREFIX}{suffix}", "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
            for suffix, ref in refs if ref is not None]
    return out


def consumer_group(plan: Plan, env: EnvironmentPlan) -> str:
    """One consumer group per environment: Kafka splits a topic's partitions among the members of a
    group, so staging and production sharing one would each see only part of the stream."""
    stream = plan.serving.stream
    assert stream is not None
    return f"{stream.consumer_group}-{env.name}"


def kustomization(resources_: list[str], namespace: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace is not None:
        doc["namespace"] = namespace
    doc["resources"] = resources_
    return doc
