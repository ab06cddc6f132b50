"""The six stages as provider-neutral jobs: what each one runs, with which inputs.

Scripts here are constants. Whatever comes from the spec is an `Lit` environment value, which the
provider writes as a YAML scalar under `env:`/`variables:` (escaped for the CI system's own expansion)
and the script reads as a quoted `"$VAR"`; no spec text is ever part of a script.

Length: the six stages (and the scheduled advance) are one table of provider-neutral jobs; keeping them
together keeps their ordering, `needs` and shared environment reviewable in one place.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from compiler import __version__
from compiler.planning.plan import Plan
from targets.ci.settings import STAGES, CiSettings

# Values passed from job to job; the first job produces the pins, train_model the image digest.
PIN_OUTPUTS = ("model_version", "data_hash", "image_tag")
ALL_OUTPUTS = (*PIN_OUTPUTS, "image_digest")
VERDICT = "gate-verdict.json"
DOTENV = "mlspec.env"

# The job that walks the rollout one stage per scheduled run: no runner is held for a stage's hours.
ROLLOUT_JOB = "advance_rollout"
# The distribution on the package index. Not `mlspec`: that name belongs to an unrelated project.
DISTRIBUTION = "mlspec-compiler"


@dataclass(frozen=True, slots=True)
class Lit:
    """Data from the spec or settings: written as a scalar, never expanded, never part of a script."""

    value: str


@dataclass(frozen=True, slots=True)
class Output:
    """A job output forwarded from the previous job."""

    name: str


@dataclass(frozen=True, slots=True)
class Secret:
    name: str


@dataclass(frozen=True, slots=True)
class Var:
    """A repository/project CI variable (GitHub `vars.X`, GitLab `$X`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Builtin:
    """A value the CI system provides, spelled per provider."""

    github: str
    gitlab: str


EnvValue = Lit | Output | Secret | Var | Builtin


@dataclass(frozen=True, slots=True)
class EnvRef:
    """A variable of the job's environment, handed to the Action as an input (`${{ env.NAME }}`)."""

    name: str


# An Action input: our own constant, a job variable, or their concatenation.
InputValue = str | EnvRef | tuple[str | EnvRef, ...]


@dataclass(frozen=True, slots=True)
class ActionCall:
    """The step as a call of the mlspec Action (GitHub `uses:`): the Action holds the install and run
    logic, so the spec repository holds none. GitLab runs the step's `script`, which does the same."""

    command: str
    inputs: tuple[tuple[str, InputValue], ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    script: str
    exports: tuple[str, ...] = ()  # shell variables later steps and the outputs need
    timeout_minutes: int | None = None
    action: ActionCall | None = None


@dataclass(frozen=True, slots=True)
class Job:
    stage: str
    title: str
    env: tuple[tuple[str, EnvValue], ...]
    steps: tuple[Step, ...]
    timeout_minutes: int
    environment: str | None = None  # CI environment (protected, with reviewers, in repository settings)
    approval: bool = False
    deploys: bool = False  # serialized per model, never cancelled, default branch only
    docker: bool = False
    packages_write: bool = False
    artifact: str | None = None
    runs_on: str | None = None
    needs: tuple[str, ...] = field(default=())
    scheduled: bool = False  # runs only in scheduled pipelines (advance_rollout), never on push
    lock: str | None = None  # concurrency group / resource group suffix; default: the environment


def environment_name(plan: Plan, env: str, settings: CiSettings) -> str:
    return f"{env}-{plan.name}" if settings.environment_per_model else env


def install_command(settings: CiSettings) -> str:
    return settings.install_command or f'python -m pip install "{DISTRIBUTION}=={__version__}"'


def image_repository(plan: Plan) -> EnvValue:
    if plan.project.registry:
        return Lit(f"{plan.project.registry.rstrip('/')}/{plan.name}")
    return Builtin(github=f"ghcr.io/${{{{ github.repository_owner }}}}/{plan.name}",
                   gitlab=f"$CI_REGISTRY_IMAGE/{plan.name}")


def uses_ghcr(plan: Plan) -> bool:
    return plan.project.registry is None or plan.project.registry.startswith("ghcr.io/")


def feature_expectations(plan: Plan) -> str:
    features = [
        {"name": f.name, "type": f.type, "min": f.min, "max": f.max,
         "allowed": list(f.allowed) if f.allowed is not None else None, "nullable": f.nullable,
         "max_null_fraction": f.max_null_fraction}
        for f in plan.data.features
    ]
    return json.dumps(features, sort_keys=True, separators=(",", ":"))


def production_env(plan: Plan) -> str:
    if plan.rollout is not None:
        return plan.rollout.environment
    names = [e.name for e in plan.serving.environments]
    return "production" if "production" in names else names[-1]


def staging_env(plan: Plan) -> str:
    names = [e.name for e in plan.serving.environments]
    prod = production_env(plan)
    before = [n for n in names if n != prod]
    return "staging" if "staging" in before else (before[0] if before else "staging")


# --- scripts (constants: only "$VARS") ---------------------------------------------------------

LINT = 'mlspec lint "$SPEC_PATH"'

VALIDATE_DVC = """\
set -eu
if [ "$DATA_PIN_KIND" = dvc ]; then
  if [ -n "$DATA_REPO" ]; then
    dvc get "$DATA_REPO" "$DATA_LOCATION.dvc" --rev "$DATA_COMMIT" -o data-pin.dvc
    dvc get "$DATA_REPO" "$DATA_LOCATION" --rev "$DATA_COMMIT" -o data-pin
  else
    cp "$DATA_LOCATION.dvc" data-pin.dvc
    dvc pull "$DATA_LOCATION"
    cp -R "$DATA_LOCATION" data-pin
  fi
else
  dvc get-url "$DATA_LOCATION" data-pin
fi"""

FETCH_PROMPT = """\
set -eu
git init -q prompt-source
git -C prompt-source fetch -q --depth 1 "$CODE_REPO" "$CODE_COMMIT"
git -C prompt-source show "FETCH_HEAD:$PROMPT_PATH" > prompt-pin"""

VALIDATE_CHECK = "mlspec data check"

RENDER = 'mlspec render "$SPEC_PATH" --out rendered'

# Without a production baseline (a first deployment) the pipeline's baseline gates pass, exactly as
# `mlspec gate` skips baseline rules without --baseline; `baseline_command` writes the file.
TRAIN = """\
set -eu
set -- --host "$KFP_ENDPOINT" --package "rendered/$PIPELINE_PACKAGE" --run-name "$MODEL_NAME-$IMAGE_TAG" \\
  --run-id "$RUN_ID" --wait --timeout "$TRAIN_TIMEOUT_SECONDS"
if [ -s "$BASELINE_METRICS" ]; then
  set -- "$@" --baseline "$BASELINE_METRICS"
else
  set -- "$@" --first-deployment
fi
mlspec kfp submit "$@\""""

BUILD_IMAGE = """\
set -eu
command -v docker >/dev/null || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }
repository="$(printf '%s' "$IMAGE_REPOSITORY" | tr '[:upper:]' '[:lower:]')"
image="$repository:$IMAGE_TAG"
printf '%s' "$REGISTRY_PASSWORD" | docker login "${repository%%/*}" --username "$REGISTRY_USERNAME" --password-stdin
docker build \\
  --label "org.opencontainers.image.revision=$CODE_COMMIT" \\
  --label "org.opencontainers.image.version=$MODEL_VERSION" \\
  --label "org.opencontainers.image.source=$CODE_REPO" \\
  --label "dev.mlspec.data-hash=$DATA_HASH" \\
  --label "dev.mlspec.spec-digest=$SPEC_DIGEST" \\
  --tag "$image" "${CODE_REPO%.git}.git#$CODE_COMMIT"
docker push "$image"
IMAGE_DIGEST="$(docker inspect --format '{{index .RepoDigests 0}}' "$image")"
IMAGE_DIGEST="${IMAGE_DIGEST#*@}\""""

GATE = """\
set -eu
set -- --candidate "$CANDIDATE_METRICS" --out "$GATE_VERDICT"
if [ -s "$BASELINE_METRICS" ]; then
  set -- "$@" --baseline "$BASELINE_METRICS"
fi
mlspec gate "$SPEC_PATH" "$@\""""

CLONE_DEPLOY = """\
set -eu
case "$DEPLOY_REPO" in
  https://*) ;;
  *) echo "the deployment repository variable must be an https URL" >&2; exit 2 ;;
esac
git clone --depth 1 "https://oauth2:$DEPLOY_TOKEN@${DEPLOY_REPO#https://}" deploy
git -C deploy config user.name "mlspec-ci"
git -C deploy config user.email "mlspec-ci@users.noreply.github.com\""""

# Production stays as committed: it changes only in the approved production job.
COMMIT_STAGING = 'mlspec commit "$SPEC_PATH" --repo deploy --hold "$PRODUCTION_ENV" --push'

# The approved release: production moves to the new version's first rollout stage (or to it, without
# a rollout); the scheduled advance_rollout job walks the later stages.
COMMIT_PRODUCTION = 'mlspec commit "$SPEC_PATH" --repo deploy --push'

# One stage per scheduled run, and only for the version the approved job released: while production
# still differs from this spec's render, the release is waiting for approval and nothing may move.
# `advance` exits 1 when the gate does not pass yet (or a rollbackOn monitor fired and the rollback
# was committed, which it prints): the next run checks again.
ADVANCE = """\
set -eu
if ! mlspec render "$SPEC_PATH" --out deploy --check >/dev/null 2>&1; then
  echo "production does not run this spec's version yet (waiting for the approved release); nothing to advance"
  exit 0
fi
code=0
mlspec rollout advance "$MODEL_NAME" --repo deploy --env "$ROLLOUT_ENV" --push || code=$?
case "$code" in
  0) ;;
  1) echo "the rollout gate does not pass yet; the next scheduled run checks again" ;;
  *) exit "$code" ;;
esac"""

EDGE_EXPORT = """\
set -eu
mkdir -p dist
EDGE_ARTIFACT="dist/$MODEL_NAME.$EDGE_FORMAT"
export EDGE_ARTIFACT
{export_command}"""

EDGE_PACKAGE = """\
set -eu
command -v docker >/dev/null || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }
repository="$(printf '%s' "$IMAGE_REPOSITORY-edge" | tr '[:upper:]' '[:lower:]')"
printf '%s' "$REGISTRY_PASSWORD" | docker login "${repository%%/*}" --username "$REGISTRY_USERNAME" --password-stdin
printf 'FROM scratch\\nCOPY model /model/\\n' > dist/Dockerfile
cp "dist/$MODEL_NAME.$EDGE_FORMAT" dist/model
docker build --file dist/Dockerfile \\
  --label "org.opencontainers.image.revision=$CODE_COMMIT" \\
  --label "org.opencontainers.image.version=$MODEL_VERSION" \\
  --label "org.opencontainers.image.source=$CODE_REPO" \\
  --label "dev.mlspec.data-hash=$DATA_HASH" \\
  --label "dev.mlspec.edge-format=$EDGE_FORMAT" \\
  --tag "$repository:$IMAGE_TAG" dist
docker push "$repository:$IMAGE_TAG\""""

EDGE_PROMOTE = """\
set -eu
command -v docker >/dev/null || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }
repository="$(printf '%s' "$IMAGE_REPOSITORY-edge" | tr '[:upper:]' '[:lower:]')"
printf '%s' "$REGISTRY_PASSWORD" | docker login "${repository%%/*}" --username "$REGISTRY_USERNAME" --password-stdin
docker pull "$repository:$IMAGE_TAG"
docker tag "$repository:$IMAGE_TAG" "$repository:$ROLLOUT_ENV"
docker push "$repository:$ROLLOUT_ENV\""""


# --- jobs ----------------------------------------------------------------------------------------


def _registry_env(settings: CiSettings, plan: Plan) -> tuple[tuple[str, EnvValue], ...]:
    user: EnvValue
    password: EnvValue
    if settings.registry_username_secret and settings.registry_password_secret:
        user, password = Secret(settings.registry_username_secret), Secret(settings.registry_password_secret)
    else:
        user = Builtin(github="${{ github.actor }}", gitlab="$CI_REGISTRY_USER")
        password = Builtin(github="${{ secrets.GITHUB_TOKEN }}", gitlab="$CI_REGISTRY_PASSWORD")
    return (("IMAGE_REPOSITORY", image_repository(plan)), ("REGISTRY_USERNAME", user),
            ("REGISTRY_PASSWORD", password))


def _pins_from_previous() -> tuple[tuple[str, EnvValue], ...]:
    return tuple((name.upper(), Output(name)) for name in PIN_OUTPUTS)


def _deploy_env(settings: CiSettings) -> tuple[tuple[str, EnvValue], ...]:
    return (("DEPLOY_REPO", Var(settings.deploy_repo_variable)),
            ("DEPLOY_TOKEN", Secret(settings.deploy_token_secret)))


# The last model's jobs, by the identity of its plan and settings (both frozen): its workflow and its
# share of the repository settings (targets.ci.repository) read them where the spec renders, and
# building them is a tenth of the ci target's render.
_LAST: tuple[Plan, CiSettings, tuple[Job, ...]] | None = None


def build_jobs(plan: Plan, settings: CiSettings) -> list[Job]:
    global _LAST
    last = _LAST
    if last is not None and last[0] is plan and last[1] is settings:
        return list(last[2])
    jobs = _build_jobs(plan, settings)
    _LAST = (plan, settings, tuple(jobs))
    return jobs


def _build_jobs(plan: Plan, settings: CiSettings) -> list[Job]:
    edge = plan.serving.pattern == "edge"
    install = Step("Set up mlspec", install_command(settings),
                   action=ActionCall("setup", (("python-version", settings.python_version),)))
    spec = ("specs", EnvRef("SPEC_PATH"))
    lint = Job(
        stage="lint_and_test", title="Lint the spec and run the spec repository's tests",
        env=(("MODEL_VERSION", Lit(plan.model.version)), ("DATA_HASH", Lit(plan.data.hash)),
             ("IMAGE_TAG", Lit(plan.image_tag))),
        steps=(install, Step("mlspec lint", LINT, action=ActionCall("lint", (spec,))),
               Step("Spec repository tests", settings.test_command)),
        timeout_minutes=settings.timeout("lint_and_test"),
    )
    prompt_env: tuple[tuple[str, EnvValue], ...] = ()
    prompt_steps: tuple[Step, ...] = ()
    if plan.model.prompt_path and plan.model.prompt_sha256:
        # The prompt the model runs with must be the pinned one: fetched at the pinned code commit.
        prompt_env = (("CODE_REPO", Lit(plan.model.code_repo)), ("CODE_COMMIT", Lit(plan.model.code_commit)),
                      ("PROMPT_PATH", Lit(plan.model.prompt_path)), ("PROMPT_SHA256", Lit(plan.model.prompt_sha256)))
        prompt_steps = (Step("Fetch the pinned prompt", FETCH_PROMPT),)
    validate = Job(
        stage="validate_data", title="Check the data and prompt pins and the feature expectations",
        env=(*_pins_from_previous(),
             ("DATA_PIN_KIND", Lit(plan.data.pin_kind)), ("DATA_LOCATION", Lit(plan.data.location)),
             ("DATA_DIGEST", Lit(plan.data.digest)), ("DATA_REPO", Lit(plan.data.registry_repo or "")),
             ("DATA_COMMIT", Lit(plan.data.registry_commit or "")),
             ("FEATURE_EXPECTATIONS", Lit(feature_expectations(plan))), *prompt_env),
        steps=(install, Step("Install DVC", settings.dvc_install_command),
               Step("Fetch the pinned data", VALIDATE_DVC), *prompt_steps,
               Step("Check pins and features", VALIDATE_CHECK, action=ActionCall("data-check"))),
        timeout_minutes=settings.timeout("validate_data"),
    )
    train_minutes = settings.timeout("train_model")
    train = Job(
        stage="train_model", title="Train on Kubeflow Pipelines and build the model image",
        env=(*_pins_from_previous(),
             ("KFP_ENDPOINT", Var(settings.kfp_endpoint_variable)),
             ("PIPELINE_PACKAGE", Lit(settings.pipeline_package.format(model=plan.name))),
             ("TRAIN_TIMEOUT_SECONDS", Lit(str(max(60, (train_minutes - 10) * 60)))),
             ("RUN_ID", Builtin(github="${{ github.run_id }}-${{ github.run_attempt }}",
                                gitlab="$CI_PIPELINE_ID-$CI_JOB_ID")),
             ("BASELINE_METRICS", Lit("metrics/baseline.json")),
             ("CODE_REPO", Lit(plan.model.code_repo)), ("CODE_COMMIT", Lit(plan.model.code_commit)),
             ("SPEC_DIGEST", Lit(plan.provenance.spec_digest)),
             *_registry_env(settings, plan)),
        steps=(install, Step("Render the pipeline", RENDER, action=ActionCall("render", (spec, ("out", "rendered")))),
               *((Step("Fetch the production baseline", settings.baseline_command),)
                 if settings.baseline_command else ()),
               Step("Run the pipeline", TRAIN, action=ActionCall("train", (
                   ("kfp-endpoint", EnvRef("KFP_ENDPOINT")),
                   ("package", "rendered/" + settings.pipeline_package.format(model=plan.name)),
                   ("run-name", (EnvRef("MODEL_NAME"), "-", EnvRef("IMAGE_TAG"))),
                   ("run-id", EnvRef("RUN_ID")), ("timeout-seconds", EnvRef("TRAIN_TIMEOUT_SECONDS")),
                   ("baseline", EnvRef("BASELINE_METRICS"))))),
               Step("Build and push the model image", BUILD_IMAGE, exports=("IMAGE_DIGEST",))),
        timeout_minutes=train_minutes, docker=True, packages_write=uses_ghcr(plan),
    )
    gate_steps = [install]
    if settings.metrics_command:
        gate_steps.append(Step("Fetch candidate and baseline metrics", settings.metrics_command))
    gate_steps.append(Step("mlspec gate", GATE, action=ActionCall("gate", (
        spec, ("candidate", EnvRef("CANDIDATE_METRICS")), ("baseline", EnvRef("BASELINE_METRICS")),
        ("verdict", EnvRef("GATE_VERDICT"))))))
    evaluate = Job(
        stage="evaluate_against_baseline", title="Apply the spec's gates against the production baseline",
        env=(*_pins_from_previous(), ("IMAGE_DIGEST", Output("image_digest")),
             ("CANDIDATE_METRICS", Lit("metrics/candidate.json")),
             ("BASELINE_METRICS", Lit("metrics/baseline.json")), ("GATE_VERDICT", Lit(VERDICT))),
        steps=tuple(gate_steps), timeout_minutes=settings.timeout("evaluate_against_baseline"), artifact=VERDICT,
    )
    prod = production_env(plan)
    staging_name = environment_name(plan, staging_env(plan), settings)
    prod_name = environment_name(plan, prod, settings)
    approval = plan.rollout.manual_approval if plan.rollout is not None else False
    approval = approval or any(e.approval_required for e in plan.serving.environments if e.name == prod)
    after_gate = (*_pins_from_previous(), ("IMAGE_DIGEST", Output("image_digest")))
    if edge:
        assert plan.serving.edge is not None  # the spec rules require an edge section for the pattern
        edge_env = (("EDGE_FORMAT", Lit(plan.serving.edge.format)), ("MODEL_URI", Lit(plan.model.uri)),
                    ("CODE_REPO", Lit(plan.model.code_repo)), ("CODE_COMMIT", Lit(plan.model.code_commit)),
                    *_registry_env(settings, plan))
        staging = Job(
            stage="deploy_to_staging", title="Export and package the edge model",
            env=(*after_gate, *edge_env),
            steps=(install, Step("Export the model", EDGE_EXPORT.format(export_command=settings.edge_export_command)),
                   Step("Package the model as an OCI artifact", EDGE_PACKAGE)),
            timeout_minutes=settings.timeout("deploy_to_staging"), environment=staging_name, deploys=True,
            docker=True, packages_write=uses_ghcr(plan),
        )
        production = Job(
            stage="canary_deploy_production", title="Publish the edge package to the devices' channel",
            env=(*after_gate, ("ROLLOUT_ENV", Lit(prod)), *edge_env),
            steps=(Step("Promote the package", EDGE_PROMOTE),),
            timeout_minutes=settings.timeout("canary_deploy_production"), environment=prod_name,
            approval=approval, deploys=True, docker=True, packages_write=uses_ghcr(plan),
        )
    else:
        staging = Job(
            stage="deploy_to_staging", title="Commit the staging manifests to the deployment repository",
            env=(*after_gate, ("PRODUCTION_ENV", Lit(prod)), *_deploy_env(settings)),
            steps=(install, Step("Clone the deployment repository", CLONE_DEPLOY),
                   Step("mlspec commit", COMMIT_STAGING, action=ActionCall("deploy", (
                       spec, ("deploy-path", "deploy"), ("hold", EnvRef("PRODUCTION_ENV")))))),
            timeout_minutes=settings.timeout("deploy_to_staging"), environment=staging_name, deploys=True,
        )
        production = Job(
            stage="canary_deploy_production", title="Release the new version to production (first rollout stage)",
            env=(*after_gate, ("ROLLOUT_ENV", Lit(prod)), *_deploy_env(settings)),
            steps=(install, Step("Clone the deployment repository", CLONE_DEPLOY),
                   Step("mlspec commit", COMMIT_PRODUCTION, action=ActionCall("deploy", (
                       spec, ("deploy-path", "deploy"))))),
            timeout_minutes=settings.timeout("canary_deploy_production"), environment=prod_name, approval=approval,
            deploys=True, runs_on=settings.deploy_runs_on,
        )
    jobs = [lint, validate, train, evaluate, staging, production]
    assert tuple(j.stage for j in jobs) == STAGES
    out = [dataclasses.replace(job, needs=(jobs[i - 1].stage,) if i else ()) for i, job in enumerate(jobs)]
    if plan.rollout is not None and not edge:
        # No `environment:`: its required reviewers would hold every scheduled run for approval. The
        # release itself was approved in canary_deploy_production; this job only follows the gate.
        out.append(Job(
            stage=ROLLOUT_JOB, title="Advance the production rollout one stage when its gate passes",
            env=(("ROLLOUT_ENV", Lit(prod)), ("MLSPEC_PROMETHEUS_URL", Var(settings.prometheus_url_variable)),
                 *_deploy_env(settings)),
            steps=(install, Step("Clone the deployment repository", CLONE_DEPLOY),
                   Step("mlspec rollout advance", ADVANCE, action=ActionCall("advance", (
                       spec, ("deploy-path", "deploy"), ("model", EnvRef("MODEL_NAME")),
                       ("environment", EnvRef("ROLLOUT_ENV")),
                       ("prometheus-url", EnvRef("MLSPEC_PROMETHEUS_URL")))))),
            timeout_minutes=settings.timeout(ROLLOUT_JOB), deploys=True, runs_on=settings.deploy_runs_on,
            # Its own group: a scheduled check queued behind a running one must never displace (cancel)
            # a pending release in the production group; the repository lock orders their commits.
            scheduled=True, lock=f"{prod_name}-rollout",
        ))
    return out


def common_env(plan: Plan) -> tuple[tuple[str, EnvValue], ...]:
    """Values every job reads: identity of the model and where its spec lives."""
    return (("MODEL_NAME", Lit(plan.name)), ("SPEC_PATH", Lit(plan.provenance.spec_path)))
