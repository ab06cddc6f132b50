"""The kubeflow target: a KFP v2 training pipeline (IR YAML) with gates in front of register-model, a
scoring pipeline for batch models, CronJobs that start runs, a retraining trigger config and, optionally,
Pipeline/PipelineVersion objects for KFP's Kubernetes-native mode. See docs/kubeflow.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Target
from targets.kubeflow import checks
from targets.kubeflow.settings import KubeflowSettings

__all__ = ["KubeflowSettings", "KubeflowTarget"]


class KubeflowTarget(Target):
    name = "kubeflow"
    description = "Kubeflow Pipelines v2 IR, run schedules as CronJobs, optional Pipeline/PipelineVersion CRs"
    codes = checks.CODES
    settings_model = KubeflowSettings

    def check(self, plan: Plan, settings: Any) -> Iterable[Diagnostic]:
        return list(checks.check(plan))

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        from targets.kubeflow import ir, native, retraining, schedule  # render only: lint starts faster

        s = settings if isinstance(settings, KubeflowSettings) else KubeflowSettings.model_validate(settings or {})
        base = f"models/{plan.name}/kubeflow"
        files: list[OutputFile] = []
        kube_files: list[str] = []

        def add(rel: str, docs: list[dict[str, Any]], *, kubernetes: bool) -> None:
            files.append(OutputFile(f"{base}/{rel}", "yaml", docs))
            if kubernetes:
                kube_files.append(rel)

        training = ir.training_pipeline(plan, s)
        scoring = ir.scoring_pipeline(plan, s)
        add("pipeline.yaml", training.documents, kubernetes=False)
        if scoring is not None:
            add("scoring-pipeline.yaml", scoring.documents, kubernetes=False)

        train_cron = schedule.object_name(plan, "train")
        if plan.pipeline.schedule is not None or plan.pipeline.retraining is not None:
            add("schedule.yaml", [schedule.runner_configmap(plan, s, training, "train"),
                                  schedule.cronjob(plan, s, training, "train", plan.pipeline.schedule)],
                kubernetes=True)
        if scoring is not None and plan.serving.batch is not None:
            add("scoring-schedule.yaml", [schedule.runner_configmap(plan, s, scoring, "score"),
                                          schedule.cronjob(plan, s, scoring, "score", plan.serving.batch.schedule)],
                kubernetes=True)
        if plan.pipeline.retraining is not None:
            name = schedule.object_name(plan, "retraining")
            add("retraining.yaml", [retraining.configmap(plan, s, name, train_cron)], kubernetes=True)
        if s.kubernetesNative:
            docs = native.objects(plan, s, training)
            if scoring is not None:
                docs += native.objects(plan, s, scoring)
            add("native.yaml", docs, kubernetes=True)
        if kube_files:
            add("kustomization.yaml", [{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                        "namespace": s.namespace, "resources": sorted(kube_files)}],
                kubernetes=False)
        return files
