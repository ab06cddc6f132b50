"""LLMInferenceService (serving.kserve.io/v1alpha2): KServe's serving path for LLMs, vLLM pods behind
the llm-d inference scheduler (prefix-cache and load aware routing), optionally with disaggregated
prefill/decode pools. Shapes follow the v0.20.0 CRD and kserve/kserve docs/samples/llmisvc.

Rollout: an LLMInferenceService has no canary field and no mirror. KServe 0.20 gives route *groups*
instead: members naming the same `spec.router.route.group` share one route, traffic split by their
`weight` (proportional, Gateway API backendRef semantics), and must serve the same `model.name`
(members with different names form separate sub-groups). A canary stage is therefore two objects in
git, `<model>` on the previous version and `<model>-canary` on the new one, weighted 100-N : N; `full`
and `rollback` are `<model>` alone on the new or the previous version. Shadow traffic cannot be
expressed (KSV041).
"""

from __future__ import annotations

import math
from typing import Any

from compiler.planning.plan import EnvironmentPlan, Plan, StagePlan
from compiler.planning.serving_names import llm_canary_name, served_model_name
from targets.kserve import manifests

LLM_API = "serving.kserve.io/v1alpha2"
KIND = "LLMInferenceService"
FILENAME = "llminferenceservice.yaml"
CANARY_FILENAME = "canary-llminferenceservice.yaml"
CONTAINER = "main"  # the container name KServe's LLMInferenceServiceConfig templates use
FULL_WEIGHT = 100


def _container(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    container: dict[str, Any] = {"name": CONTAINER}
    variables = manifests.prompt_env(plan)
    if variables:
        container["env"] = variables
    res = manifests.resources(env)
    if res:
        container["resources"] = res
    return container


def llm_service(plan: Plan, env: EnvironmentPlan, *, name: str, version: str, uri: str,
                weight: int | None, replicas: int | None = None) -> dict[str, Any]:
    """One LLMInferenceService serving `version` from `uri`; `weight` makes it a member of the model's
    route group (the rollout environment), None a stand-alone service."""
    llm = plan.serving.llm
    assert llm is not None
    spec: dict[str, Any] = {
        # Every member serves the primary's model name: requests name it in their `model` field, and
        # members of one group with different names would not share a route.
        "model": {"uri": uri, "name": served_model_name(plan)},
        # spec.scaling needs the Workload Variant Autoscaler; fixed replicas otherwise (KSV044).
        "replicas": env.replicas_min if replicas is None else replicas,
    }
    route: dict[str, Any] = {"http": {}}
    if weight is not None:
        route = {"group": plan.name, "weight": weight, "http": {}}
    router: dict[str, Any] = {"route": route, "gateway": {}}
    if llm.scheduler:
        router["scheduler"] = {}
    spec["router"] = router
    if llm.configs:
        spec["baseRefs"] = [{"name": config} for config in llm.configs]
    template: dict[str, Any] = {"serviceAccountName": manifests.service_account_name(plan),
                                "containers": [_container(plan, env)]}
    spec["template"] = template
    if llm.prefill_replicas is not None:
        spec["prefill"] = {"replicas": llm.prefill_replicas, "template": {"containers": [_container(plan, env)]}}
    return {"apiVersion": LLM_API, "kind": KIND,
            "metadata": manifests.llm_meta(plan, name, env.namespace, version), "spec": spec}


def canary_replicas(stable: int, percent: int) -> int:
    """GPU pods for the canary member: its share of the stable size, at least one (what KServe does for a
    Standard-mode spec.canary: ceil(minReplicas x trafficPercent / 100)); a full copy would double the
    GPUs for a 10% share."""
    return max(1, math.ceil(stable * percent / 100))


def environment(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    """An environment without a rollout: the new version, stand-alone."""
    return llm_service(plan, env, name=plan.name, version=plan.model.version, uri=plan.model.uri, weight=None)


def stage(plan: Plan, env: EnvironmentPlan, stage_: StagePlan) -> list[tuple[str, dict[str, Any]]]:
    if stage_.kind == "canary":
        percent = int(stage_.traffic)
        assert plan.model.previous_version is not None
        assert plan.model.previous_uri is not None
        stable = llm_service(plan, env, name=plan.name, version=plan.model.previous_version,
                             uri=plan.model.previous_uri, weight=FULL_WEIGHT - percent)
        canary = llm_service(plan, env, name=llm_canary_name(plan), version=plan.model.version, uri=plan.model.uri,
                             weight=percent, replicas=canary_replicas(env.replicas_min, percent))
        return [(FILENAME, stable), (CANARY_FILENAME, canary)]
    # `full` (shadow is refused by KSV041 before rendering)
    return [(FILENAME, llm_service(plan, env, name=plan.name, version=plan.model.version, uri=plan.model.uri,
                                   weight=FULL_WEIGHT))]


def rollback(plan: Plan, env: EnvironmentPlan) -> list[tuple[str, dict[str, Any]]]:
    """The previous version alone at full weight; the canary member is pruned with the stage."""
    assert plan.model.previous_version is not None
    assert plan.model.previous_uri is not None
    return [(FILENAME, llm_service(plan, env, name=plan.name, version=plan.model.previous_version,
                                   uri=plan.model.previous_uri, weight=FULL_WEIGHT))]
