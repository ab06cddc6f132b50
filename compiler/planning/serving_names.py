"""Names the serving side gives a model, shared by the target that decides them (kserve) and the ones
that select its requests and series (prometheus, rollout): one definition, so they cannot drift apart.

KServe's built-in runtimes start the model server with `--model_name={{.Name}}` (the InferenceService
name). The kserve target makes every predictor of a model — primary, canary and shadow — serve the
model under the primary's name, because a mirror copies the request path unchanged
(`/v1/models/<model>:predict`): a shadow serving `<model>-shadow` would answer every mirrored request
with 404. So the `model_name` label of the KServe server's metrics is the same on all of them; the pods
tell them apart: KServe names each predictor's pods after its Service, `<isvc>-predictor-...`.
"""

from __future__ import annotations

from compiler.planning.plan import Plan

SHADOW_SUFFIX = "-shadow"
PREDICTOR_SUFFIX = "-predictor"
# spec.canary[].predictor.name of a Standard-mode canary: KServe names its Deployment and Service
# <isvc>-<name>-predictor.
CANARY_PREDICTOR = "canary"


def served_model_name(plan: Plan) -> str:
    """The model name every predictor of `plan` serves under (request paths, the `model_name` label of
    `request_*_seconds`), the shadow's and the canary's included."""
    return plan.name


def shadow_service_name(plan: Plan) -> str:
    """The shadow stage's InferenceService."""
    return plan.name + SHADOW_SUFFIX


def predictor_service(isvc: str, predictor: str | None = None) -> str:
    """KServe's predictor Service (and Deployment / Knative Service) name for an InferenceService."""
    return f"{isvc}-{predictor}{PREDICTOR_SUFFIX}" if predictor else isvc + PREDICTOR_SUFFIX


def predictor_pod_regex(isvc: str, predictor: str | None = None) -> str:
    """A `pod=~` regex selecting exactly one predictor's pods: `<model>-predictor-.+` does not match the
    shadow's `<model>-shadow-predictor-...` nor the canary's `<model>-canary-predictor-...`."""
    # InferenceService names are DNS labels ([-a-z0-9]): nothing in them needs escaping in a regex.
    return predictor_service(isvc, predictor) + "-.+"


def shadow_pod_regex(plan: Plan) -> str:
    """The shadow's pods: with `served_model_name(plan)` this selects the shadow's own series."""
    return predictor_pod_regex(shadow_service_name(plan))


# LLMInferenceService (serving.kind: llm). KServe 0.20's controller names the main Deployment
# `<llmisvc>-kserve` and the prefill Deployment `<llmisvc>-kserve-prefill` (workload_single_node.go,
# kmeta.ChildName, which shortens with a hash past 63 characters). A canary is the route-group member
# `<model>-canary` (targets/kserve/llm.py); every member serves `model.name` = the model name, so vLLM's
# `model_name` label is the same on both sides and the pod tells them apart.
LLM_CANARY_SUFFIX = "-canary"
LLM_WORKLOAD_SUFFIX = "-kserve"


def llm_canary_name(plan: Plan) -> str:
    """The canary member of the model's LLMInferenceService route group."""
    return plan.name + LLM_CANARY_SUFFIX


def llm_pod_regex(llmisvc: str) -> str:
    """A `pod=~` regex for one LLMInferenceService's decode (main) pods, `<llmisvc>-kserve-<rs>-<pod>`:
    it matches neither its prefill pods (`<llmisvc>-kserve-prefill-...`) nor the canary member's
    (`<model>-canary-kserve-...`)."""
    return llmisvc + LLM_WORKLOAD_SUFFIX + "-[a-z0-9]+-[a-z0-9]+"
