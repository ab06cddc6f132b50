"""The rendered serving system against KServe's real Python model server (`kserve` 0.20.0 from PyPI).

Each server is started with the command line KServe would give the predictor of a rendered
InferenceService (runtime args with `{{.Name}}` filled in, then the object's `model.args`:
tests/kserve_cluster.py), bound to 127.0.0.1. Requests go to the path the rendered routing delivers —
for the shadow, what the rendered mirror delivers: the same path, to the mirror's destination — and
the servers' /metrics must expose the series the rendered Prometheus rules select.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_stub import free_port
from kserve_cluster import canary_webhook_errors, host, predictor_args, predictor_service
from rule_selectors import matches, selectors, series
from tools import DATA, require_module

from compiler.pipeline import RunResult, run
from compiler.planning import serving_names
from golden import SPECS, registry_of, render_examples
from targets.kserve import KServeTarget
from targets.prometheus import PrometheusTarget

SERVER = Path(__file__).resolve().parent / "kserve_server.py"
RECORDED = DATA / "kserve-0.20.0-metrics.txt"
FRAUD = SPECS / "fraud-detector.yaml"
STAGES = "models/fraud-detector/kserve/production/stages"
RULES = "models/fraud-detector/prometheus/production/rules.yaml"
INGRESS_DOMAIN = "example.com"  # the kserve target's default `domain`
# docs/metrics.md: the KServe server has no failure counter; the predictor exports this one itself.
USER_EXPORTED = {"ml_inference_errors_total"}
STARTUP_SECONDS = 60.0


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def request(self, method: str, path: str, body: Any = None, host_header: str | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"content-type": "application/json"}
        if host_header:
            headers["host"] = host_header
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _launch(name: str, args: list[str], logs: Path) -> Server:
    port = free_port()  # the server takes its port as a flag
    args = [f"--http_port={port}" if a.startswith("--http_port=") else a for a in args]
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=out, stderr=subprocess.STDOUT)
    return Server(name, port, process, log)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        try:
            if server.request("GET", "/")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{server.name} not ready in {STARTUP_SECONDS:.0f}s:\n{server.log.read_text()[-3000:]}")


def _docs(result: RunResult) -> dict[str, Any]:
    # openslo.yaml is a stream of OpenSLO documents, nothing served: not read here
    docs: dict[str, Any] = {path: yaml.safe_load(data) for path, data in result.files().items()
                            if path.endswith(".yaml") and not path.endswith("/openslo.yaml")}
    docs["plan"] = result.specs[0].plan
    return docs


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    require_module("kserve")
    return _docs(render_examples(KServeTarget(), PrometheusTarget(), specs=[FRAUD]))


@pytest.fixture(scope="module")
def servers(rendered: Mapping[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """The predictors of the shadow stage (primary and shadow) and of a canary stage's canary entry,
    started in parallel."""
    logs = tmp_path_factory.mktemp("kserve")
    primary = rendered[f"{STAGES}/shadow/inferenceservice.yaml"]
    shadow = rendered[f"{STAGES}/shadow/shadow-inferenceservice.yaml"]
    canary = rendered[f"{STAGES}/canary-25/inferenceservice.yaml"]
    started = {
        "primary": _launch("primary", predictor_args(primary), logs),
        "shadow": _launch("shadow", predictor_args(shadow), logs),
        "canary": _launch("canary", predictor_args(canary, canary=0), logs),
    }
    try:
        for server in started.values():
            _wait_ready(server)
        yield started
    finally:
        for server in started.values():  # nothing to flush: no graceful shutdown needed
            server.process.kill()
        for server in started.values():
            server.process.wait(timeout=10)


def _predict_path(isvc: Mapping[str, Any], model: str) -> tuple[str, Any]:
    """The request a client of the InferenceService sends: KServe's model name is the object's name."""
    if isvc["spec"]["predictor"]["model"].get("protocolVersion", "v1") == "v2":
        body = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
        return f"/v2/models/{model}/infer", body
    return f"/v1/models/{model}:predict", {"instances": [[1, 2], [3, 4]]}


def _service_of(destination_host: str, namespace: str) -> str:
    suffix = f".{namespace}.svc.cluster.local"
    assert destination_host.endswith(suffix), destination_host
    return destination_host.removesuffix(suffix)


def test_mirror_route_is_for_the_primarys_host(rendered: Mapping[str, Any]) -> None:
    """The route must be for the host KServe gives the primary (its default domainTemplate), send live
    traffic to the primary's predictor Service and mirror to the shadow's."""
    primary = rendered[f"{STAGES}/shadow/inferenceservice.yaml"]
    shadow = rendered[f"{STAGES}/shadow/shadow-inferenceservice.yaml"]
    route = rendered[f"{STAGES}/shadow/virtualservice.yaml"]
    namespace = primary["metadata"]["namespace"]
    [http] = route["spec"]["http"]
    assert route["spec"]["hosts"] == [host(primary, INGRESS_DOMAIN)]
    assert _service_of(http["route"][0]["destination"]["host"], namespace) == predictor_service(
        primary["metadata"]["name"])
    assert _service_of(http["mirror"]["host"], namespace) == predictor_service(shadow["metadata"]["name"])


def test_live_and_mirrored_requests_reach_a_model(rendered: Mapping[str, Any], servers: dict[str, Server]) -> None:
    primary = rendered[f"{STAGES}/shadow/inferenceservice.yaml"]
    hostname = rendered[f"{STAGES}/shadow/virtualservice.yaml"]["spec"]["hosts"][0]
    path, body = _predict_path(primary, primary["metadata"]["name"])
    status, answer = servers["primary"].request("POST", path, body, host_header=hostname)
    assert status == 200, answer
    assert json.loads(answer)["predictions"] == [3, 7]
    # Istio mirrors the request unchanged except for a `-shadow` suffix on the Host header.
    status, answer = servers["shadow"].request("POST", path, body, host_header=hostname + "-shadow")
    assert status == 200, f"a mirrored {path} gets {status} from the shadow: {answer!r}"


def test_kafka_records_reach_the_model(servers: dict[str, Server], tmp_path: Path) -> None:
    """A streaming model's KafkaSource sink: the path the rendered source posts to, with a record
    delivered the way Knative's Kafka source does (a binary-mode CloudEvent), is served."""
    spec = yaml.safe_load(FRAUD.read_text())
    spec["serving"]["pattern"] = "streaming"
    spec["serving"]["stream"] = {"bootstrapServers": ["kafka-0.kafka.svc:9092"], "topic": "payments"}
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fraud-detector.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = run([tmp_path / "specs"], root=tmp_path, render=True, registry=registry_of(KServeTarget()), jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    docs = _docs(result)
    sources = [d for p, d in docs.items() if p.endswith("/kafkasource.yaml")]
    assert len({s["spec"]["consumerGroup"] for s in sources}) == len(sources) == 2
    for source in sources:
        sink = source["spec"]["sink"]["uri"]
        service = sink.removeprefix("http://").split("/", 1)[0]
        assert service == f"{predictor_service('fraud-detector')}.{source['metadata']['namespace']}.svc.cluster.local"
        path = "/" + sink.removeprefix("http://").split("/", 1)[1]
        conn = http.client.HTTPConnection("127.0.0.1", servers["primary"].port, timeout=10)
        try:
            conn.request("POST", path, body=json.dumps({"instances": [[1, 2]]}), headers={
                "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "partition:0/offset:7",
                "ce-source": "/apis/v1/namespaces/x/kafkasources/fraud-detector-stream#payments",
                "ce-type": "dev.knative.kafka.event"})
            response = conn.getresponse()
            assert response.status == 200, response.read()
        finally:
            conn.close()


def test_canary_serves_the_same_model_name(rendered: Mapping[str, Any], servers: dict[str, Server]) -> None:
    canary = rendered[f"{STAGES}/canary-25/inferenceservice.yaml"]
    assert canary_webhook_errors(canary) == []
    path, body = _predict_path(canary, canary["metadata"]["name"])
    status, answer = servers["canary"].request("POST", path, body)
    assert status == 200, answer


def _exposition(server: Server) -> str:
    status, text = server.request("GET", "/metrics")
    assert status == 200
    return text.decode()


def test_metrics_expose_what_the_rules_select(rendered: Mapping[str, Any], servers: dict[str, Server]) -> None:
    primary = rendered[f"{STAGES}/shadow/inferenceservice.yaml"]
    path, body = _predict_path(primary, primary["metadata"]["name"])
    for name in ("primary", "shadow"):  # at least one request each, so the histograms have samples
        assert servers[name].request("POST", path, body)[0] == 200
    chosen = [s for s in selectors(yaml.safe_dump(rendered[RULES])) if any(m[0] == "model_name" for m in s.matchers)]
    assert chosen, "the rules select no series of the KServe server"
    for name in ("primary", "shadow"):
        exposed = series(_exposition(servers[name]))
        missing = sorted({str(s) for s in chosen if s.metric not in USER_EXPORTED and not matches(s, exposed)})
        assert missing == [], f"{name}: rules select series the real server does not expose"
        # What the prometheus side is told (compiler.planning.serving_names) is what the shadow's series carry.
        model_names = {labels["model_name"] for metric, labels in exposed if metric == "request_predict_seconds_count"}
        assert model_names == {serving_names.served_model_name(rendered["plan"])}, model_names


def test_latency_slo_bucket_is_exposed(servers: dict[str, Server], tmp_path: Path) -> None:
    """A latency SLO counts requests through the bucket whose bound equals its latency: the rendered
    `le` matcher must select a bucket the real server exposes (KServe keeps prometheus_client's default
    bounds, so 250ms can be an SLO latency and 150ms cannot)."""
    spec = yaml.safe_load(FRAUD.read_text())
    spec["monitors"].append({"name": "fast", "kind": "slo", "sli": "latency", "latency": "250ms", "objective": 99})
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fraud-detector.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = run([tmp_path / "specs"], root=tmp_path, render=True, registry=registry_of(PrometheusTarget()), jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    rules = result.files()[RULES].decode()
    bucketed = [s for s in selectors(rules) if any(label == "le" for label, _, _ in s.matchers)]
    assert bucketed, "no rule selects a latency bucket"
    assert servers["primary"].request("POST", "/v1/models/fraud-detector:predict", {"instances": [[1, 2]]})[0] == 200
    exposed = series(_exposition(servers["primary"]))
    assert [str(s) for s in bucketed if not matches(s, exposed)] == []


def test_recorded_exposition_matches_the_live_server(servers: dict[str, Server]) -> None:
    """tests/data/kserve-0.20.0-metrics.txt is what the metrics side builds on: the same request_*
    series (names, label names, bucket bounds) as the server installed here exposes."""
    def shape(text: str) -> set[tuple[str, tuple[str, ...], str]]:
        return {(name, tuple(sorted(labels)), labels.get("le", "")) for name, labels in series(text)
                if name.startswith("request_") and not name.endswith("_created")}

    status, _ = servers["primary"].request("POST", "/v1/models/fraud-detector:predict", {"instances": [[1, 2]]})
    assert status == 200
    recorded = shape(RECORDED.read_text())
    assert any(name == "request_predict_seconds_bucket" for name, _, _ in recorded)
    assert shape(_exposition(servers["primary"])) == recorded
