"""Which objects go in which directory: one directory per environment, and in the rollout environment
one directory per rollout stage plus the rollback form, with the environment's kustomization.yaml
selecting the live stage. The rollout engine changes only that selection (docs/kserve.md).

    models/<model>/kserve/<env>/kustomization.yaml          namespace + resources
    models/<model>/kserve/<env>/serviceaccount.yaml
    models/<model>/kserve/<env>/kafkasource.yaml            streaming only
    models/<model>/kserve/<env>/inferenceservice.yaml       environments without a rollout
    models/<model>/kserve/<env>/stages/<stage>/...          the rollout environment
"""

from __future__ import annotations

from typing import Any

from compiler.planning.plan import EnvironmentPlan, Plan, StagePlan
from compiler.planning.serving_names import served_model_name
from compiler.render.plugins import OutputFile
from targets.kserve import llm, manifests
from targets.kserve.checks import ROLLBACK, has_previous, is_llm, rendered_stages, serves_live, stages
from targets.kserve.runtimes import Serving, resolve
from targets.kserve.settings import KServeSettings

TARGET = "kserve"


def environment_dir(plan: Plan, environment: str) -> str:
    return f"models/{plan.name}/{TARGET}/{environment}"


def _yaml(path: str, *docs: dict[str, Any]) -> OutputFile:
    return OutputFile(path=path, format="yaml", content=list(docs))


def render(plan: Plan, settings: KServeSettings) -> list[OutputFile]:
    if not serves_live(plan):  # batch scoring is a pipeline run; edge packaging belongs to CI
        return []
    if is_llm(plan):
        return [f for env in plan.serving.environments for f in _llm_environment(plan, env, settings)]
    serving = resolve(plan.model.framework, plan.model.runtime, plan.serving.protocol)
    if serving is None:  # KSV006 already stops the run; never render a half-specified predictor
        return []
    out: list[OutputFile] = []
    for env in plan.serving.environments:
        out += _environment(plan, env, settings, serving)
    return out


def _environment(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, serving: Serving) -> list[OutputFile]:
    base = environment_dir(plan, env.name)
    files = [_yaml(f"{base}/serviceaccount.yaml", manifests.service_account(plan, env, settings))]
    resources = ["serviceaccount.yaml"]
    if plan.serving.stream is not None:
        files.append(_yaml(f"{base}/kafkasource.yaml", manifests.kafka_source(plan, env, serving)))
        resources.append("kafkasource.yaml")
    if env.rollout and plan.rollout is not None:
        forms = {stage.name: _stage(plan, env, settings, serving, stage) for stage in stages(plan)}
        if has_previous(plan):
            forms[ROLLBACK] = _rollback(plan, env, settings, serving)
        for name, docs in forms.items():
            stage_dir = f"{base}/stages/{name}"
            listed = []
            for filename, doc in docs:
                files.append(_yaml(f"{stage_dir}/{filename}", doc))
                listed.append(filename)
            files.append(_yaml(f"{stage_dir}/kustomization.yaml", manifests.kustomization(listed)))
        resources.append(f"stages/{active_stage(plan)}")
    else:
        isvc = _candidate_service(plan, env, settings, serving)
        files.append(_yaml(f"{base}/inferenceservice.yaml", isvc))
        resources.append("inferenceservice.yaml")
    files.append(_yaml(f"{base}/kustomization.yaml", manifests.kustomization(resources, env.namespace)))
    return files


def _llm_environment(plan: Plan, env: EnvironmentPlan, settings: KServeSettings) -> list[OutputFile]:
    """The same layout as an InferenceService model's, with LLMInferenceServices (targets.kserve.llm)."""
    base = environment_dir(plan, env.name)
    files = [_yaml(f"{base}/serviceaccount.yaml", manifests.service_account(plan, env, settings))]
    resources = ["serviceaccount.yaml"]
    if env.rollout and plan.rollout is not None:
        forms = {s.name: llm.stage(plan, env, s) for s in stages(plan) if s.kind != "shadow"}
        if has_previous(plan):
            forms[ROLLBACK] = llm.rollback(plan, env)
        for name, docs in forms.items():
            stage_dir = f"{base}/stages/{name}"
            for filename, doc in docs:
                files.append(_yaml(f"{stage_dir}/{filename}", doc))
            files.append(_yaml(f"{stage_dir}/kustomization.yaml", manifests.kustomization([f for f, _ in docs])))
        resources.append(f"stages/{active_stage(plan)}")
    else:
        files.append(_yaml(f"{base}/{llm.FILENAME}", llm.environment(plan, env)))
        resources.append(llm.FILENAME)
    files.append(_yaml(f"{base}/kustomization.yaml", manifests.kustomization(resources, env.namespace)))
    return files


def active_stage(plan: Plan) -> str:
    """The live stage: the deployment repository's rollout state (`RolloutPlan.active_stage`, set only
    for this model version) when this rollout has that stage, else the first stage, so a new model
    version always starts from the beginning of its rollout (docs/rollout.md)."""
    rendered = rendered_stages(plan)
    chosen = plan.rollout.active_stage if plan.rollout is not None else None
    if chosen is not None and chosen in rendered:
        return chosen
    return rendered[0]


def _candidate_predictor(plan: Plan, env: EnvironmentPlan, settings: KServeSettings,
                         serving: Serving) -> dict[str, Any]:
    return manifests.predictor(plan, env, settings, serving, plan.model.uri)


def _previous_predictor(plan: Plan, env: EnvironmentPlan, settings: KServeSettings,
                        serving: Serving) -> dict[str, Any]:
    assert plan.model.previous_uri is not None
    return manifests.predictor(plan, env, settings, serving, plan.model.previous_uri)


def _candidate_service(plan: Plan, env: EnvironmentPlan, settings: KServeSettings,
                       serving: Serving) -> dict[str, Any]:
    return manifests.inference_service(
        plan, env, settings, name=plan.name, predictor_spec=_candidate_predictor(plan, env, settings, serving),
        serves=plan.model.version)


def _previous_service(plan: Plan, env: EnvironmentPlan, settings: KServeSettings,
                      serving: Serving) -> dict[str, Any]:
    assert plan.model.previous_version is not None
    return manifests.inference_service(
        plan, env, settings, name=plan.name, predictor_spec=_previous_predictor(plan, env, settings, serving),
        serves=plan.model.previous_version)


def _knative_traffic(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, serving: Serving,
                     percent: int) -> dict[str, Any]:
    """The new version's spec with `canaryTrafficPercent`: KServe sends `percent` to the newest revision
    and the rest to the last rolled-out one. Every such form (canary stages, rollback) differs from
    `full` only in that field, so none creates a revision: 0 is an instant shift back to the ready
    previous revision, even after `full` (KServe then restores its previous rolled-out revision)."""
    isvc = _candidate_service(plan, env, settings, serving)
    isvc["spec"]["predictor"] = {"canaryTrafficPercent": percent, **isvc["spec"]["predictor"]}
    return isvc


def _stage(plan: Plan, env: EnvironmentPlan, settings: KServeSettings, serving: Serving,
           stage: StagePlan) -> list[tuple[str, dict[str, Any]]]:
    if stage.kind == "full":
        return [("inferenceservice.yaml", _candidate_service(plan, env, settings, serving))]
    if stage.kind == "shadow":
        # Live traffic stays on the version in production; the candidate sees a mirrored copy. The
        # mirror keeps the request path (/v1/models/<model>:predict), so the shadow must serve the
        # primary's model name, not its own InferenceService name (compiler.planning.serving_names).
        shadow_predictor = manifests.predictor(plan, env, settings, serving, plan.model.uri,
                                               model_name=served_model_name(plan))
        shadow = manifests.inference_service(
            plan, env, settings, name=manifests.shadow_name(plan), predictor_spec=shadow_predictor,
            serves=plan.model.version)
        if settings.mirroring == "istio":
            route = ("virtualservice.yaml", manifests.virtual_service(plan, env, settings, stage.mirror, stage.name))
        else:
            route = ("httproute.yaml", manifests.http_route(plan, env, settings, stage.mirror, stage.name))
        return [("inferenceservice.yaml", _previous_service(plan, env, settings, serving)),
                ("shadow-inferenceservice.yaml", shadow), route]
    percent = int(stage.traffic)
    if settings.mode == "Knative":
        # The other side is the revision the cluster last rolled out at 100%: the previous version,
        # because every rollout passes through a stage that serves it (shadow) or starts from it.
        return [("inferenceservice.yaml", _knative_traffic(plan, env, settings, serving, percent))]
    # spec.canary[] (KServe >= 0.20) names both sides, so the stage is complete in git.
    assert plan.model.previous_version is not None
    isvc = manifests.inference_service(
        plan, env, settings, name=plan.name, predictor_spec=_previous_predictor(plan, env, settings, serving),
        serves=plan.model.previous_version, canary=[manifests.canary_entry(plan, serving, percent)])
    return [("inferenceservice.yaml", isvc)]


def _rollback(plan: Plan, env: EnvironmentPlan, settings: KServeSettings,
              serving: Serving) -> list[tuple[str, dict[str, Any]]]:
    if settings.mode == "Knative":
        # A traffic shift to the ready previous revision: no pods to start, no model to pull.
        return [("inferenceservice.yaml", _knative_traffic(plan, env, settings, serving, 0))]
    # Standard mode has no revisions to shift between (it ignores canaryTrafficPercent): the previous
    # version's plain spec, which starts its pods again.
    return [("inferenceservice.yaml", _previous_service(plan, env, settings, serving))]
