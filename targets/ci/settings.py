"""`targets.ci` settings in mlspec.yaml. Every default works without the file.

Settings are the repository owner's configuration, so the shell snippets here (install and test
commands) are trusted; spec values never are and never reach a script except through `env:`.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from compiler import __version__
from compiler.language.settings_keys import CAMEL

# Full 40-hex commit SHAs; a tag can be moved, a commit cannot (GUIDE §7).
DEFAULT_ACTIONS: dict[str, str] = {
    "actions/checkout": "11bd71901bbe5b1630ceea73d27597364c9af683",  # v4.2.2
    "actions/setup-python": "0b93645e9fea7318ecaed2b359559ac225c90a2b",  # v5.3.0
    "actions/upload-artifact": "65c4c4a1ddee5b72f698fdd19549f0f0fb45cf08",  # v4.6.0
}

# The mlspec Action the per-model workflows call (action.yml at the root of mlspec's repository). By
# default the release tag of the compiler that rendered them, so workflow and compiler agree; a mirror
# or fork sets `action`, preferably pinned by full commit SHA.
ACTION_REPOSITORY = "mlspec/mlspec"
DEFAULT_ACTION = f"{ACTION_REPOSITORY}@v{__version__}"

STAGES: tuple[str, ...] = (
    "lint_and_test",
    "validate_data",
    "train_model",
    "evaluate_against_baseline",
    "deploy_to_staging",
    "canary_deploy_production",
)

DEFAULT_TIMEOUTS: dict[str, int] = {
    "lint_and_test": 20,
    "validate_data": 60,
    "train_model": 360,
    "evaluate_against_baseline": 30,
    "deploy_to_staging": 30,
    "canary_deploy_production": 30,
    "advance_rollout": 20,  # one gate check and one commit per scheduled run
}

Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
ActionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?$")]
SecretName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
# A commit or a release tag (`v1.2.3`), never a branch such as `@main` that moves under the workflow.
ActionRef = Annotated[str, Field(
    pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@([0-9a-f]{40}|v[0-9]+(\.[0-9]+)*)$")]
Branch = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
StageName = Literal[
    "lint_and_test", "validate_data", "train_model", "evaluate_against_baseline", "deploy_to_staging",
    "canary_deploy_production", "advance_rollout",
]


class CiSettings(BaseModel):
    # camelCase keys in mlspec.yaml; the old snake_case names still load, with warning MLS620.
    model_config = ConfigDict(extra="forbid", frozen=True, **CAMEL)

    provider: Literal["github", "gitlab", "both"] = Field(
        "github", description="Which CI systems to render for.")
    actions: dict[ActionName, Sha] = Field(
        default_factory=dict, description="Action pins (owner/repo -> 40-hex commit); override the defaults.")
    action: ActionRef = Field(
        DEFAULT_ACTION, description="The mlspec Action the GitHub jobs call (owner/repo@<commit> or @v<version>); "
                                    "default: this compiler's release.")
    default_branch: Branch = "main"
    runs_on: Label = Field("ubuntu-24.04", description="GitHub runner label for every job.")
    deploy_runs_on: Label | None = Field(
        None, description="Runner for the jobs that write the deployment repository (default: runs_on).")
    python_version: Annotated[str, Field(pattern=r"^3\.[0-9]+$")] = "3.11"
    gitlab_image: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")] = "python:3.11"
    gitlab_docker_service: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")] = "docker:27-dind"
    install_command: str | None = Field(
        None, description="Shell that installs mlspec in GitLab jobs; default pins the compiler version that "
                          "rendered this. GitHub jobs install it with the Action (`action`).")
    test_command: str = Field(
        "if [ -d tests ]; then python -m pytest -q tests; fi", description="The spec repository's tests.")
    dvc_install_command: str = 'python -m pip install "dvc[s3,gs,azure]"'
    metrics_command: str | None = Field(
        None, description="Shell that writes $CANDIDATE_METRICS (and $BASELINE_METRICS when production has "
                          "a model) for the gate, e.g. from your tracking server.")
    edge_export_command: str = Field(
        'python -m export --format "$EDGE_FORMAT" --model-uri "$MODEL_URI" --output "$EDGE_ARTIFACT"',
        description="Shell that exports an edge model to $EDGE_ARTIFACT.")
    pipeline_package: str = Field(
        "models/{model}/kubeflow/pipeline.yaml",
        description="Where `mlspec render` puts the KFP package, relative to the render root.")
    baseline_command: str | None = Field(
        None, description="Shell that writes $BASELINE_METRICS (production's metrics) before the training run; "
                          "without it the pipeline runs as a first deployment (baseline gates pass).")
    rollout_schedule: Annotated[str, Field(pattern=r"^[0-9*/,-]+( [0-9*/,-]+){4}$")] = Field(
        "*/15 * * * *", description="When the scheduled advance_rollout job checks the rollout gate (UTC cron).")
    prometheus_url_variable: SecretName = Field(
        "MLSPEC_PROMETHEUS_URL", description="Repository variable with the Prometheus URL the rollout gate queries.")
    kfp_endpoint_variable: SecretName = Field("KFP_ENDPOINT", description="Repository variable naming the KFP API.")
    deploy_repo_variable: SecretName = Field(
        "MLSPEC_DEPLOY_REPO", description="Repository variable with the deployment repository's https URL.")
    deploy_token_secret: SecretName = "MLSPEC_DEPLOY_TOKEN"
    registry_username_secret: SecretName | None = Field(
        None, description="Secret with the image registry user; default: the CI system's own registry token.")
    registry_password_secret: SecretName | None = None
    environment_per_model: bool = Field(
        False, description="Name environments <env>-<model> so one model's approvers cannot approve another's.")
    verdict_retention_days: Annotated[int, Field(ge=1, le=400)] = 190
    timeouts: dict[StageName, Annotated[int, Field(ge=1, le=7200)]] = Field(
        default_factory=dict, description="Job timeouts in minutes, per stage; override the defaults.")
    # Kept so existing mlspec.yaml files stay valid; no job holds a runner for a rollout's hours any more.
    max_job_minutes: Annotated[int, Field(ge=1, le=7200)] = 7200

    def pinned(self, name: str) -> str:
        pins = {**DEFAULT_ACTIONS, **self.actions}
        return f"{name}@{pins[name]}"

    def timeout(self, stage: str) -> int:
        for name, minutes in self.timeouts.items():
            if name == stage:
                return minutes
        return DEFAULT_TIMEOUTS[stage]
