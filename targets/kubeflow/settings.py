"""`targets.kubeflow` settings in mlspec.yaml; every field has a default that works without the file."""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from pydantic import BaseModel, ConfigDict, Field


class KubeflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        "http://ml-pipeline-ui.kubeflow:80",
        description="KFP API endpoint the schedule's runner calls (the UI service proxies /apis).")
    namespace: str = Field("kubeflow", description="Namespace of the CronJobs, runner ConfigMaps and CRs.")
    pipelineRoot: str | None = Field(
        None, description="defaultPipelineRoot of every pipeline; None keeps the backend's default.")
    runnerImage: str = Field(
        "python:3.11-slim",
        description="Image with a Python 3 interpreter; the runner program itself is mounted from a ConfigMap.")
    # Off by default: Pipeline/PipelineVersion objects need KFP >= 2.14 installed with the Kubernetes
    # pipeline store; on a default (database) install the CRDs are absent and a GitOps sync would fail.
    kubernetesNative: bool = Field(False, description="Also render Pipeline and PipelineVersion objects.")
    experimentId: str | None = Field(None, description="KFP experiment for scheduled runs (needed in multi-user mode).")
    multiUser: bool = Field(
        False, description="Authenticate to a multi-user KFP with a projected service-account token.")
    serviceAccountName: str | None = Field(None, description="Service account of the runner pods.")
    registerImage: str | None = Field(None, description="Image of the register-model step; default pipeline.image.")
    registerCommand: tuple[str, ...] = Field(
        ("python", "-m", "register_model"),
        description="Fixed program of the register-model step; arguments are appended as separate argv items.")
    scoreImage: str | None = Field(None, description="Image of the batch score step; default pipeline.image.")
    scoreCommand: tuple[str, ...] = Field(
        ("python", "-m", "score"), description="Fixed program of the batch score step.")
    startingDeadlineSeconds: int = Field(3600, ge=10, description="How late a missed schedule may still start.")
    skipIfActive: bool = Field(True, description="The runner starts no run while one of the same pipeline is active.")
