"""The rendered alerts, judged by the real thing: KServe's Python model server, Debian's prometheus and
prometheus-alertmanager, on 127.0.0.1.

One spec is rendered with `timeScale` (every window and `for:` 30x shorter: a render-time setting, the
output is never edited) and Alertmanager settings that deliver to this test's webhook receiver. The
model server serves a model that can be made slow, failing or drifting; Prometheus scrapes it (with
only the `namespace`/`pod` labels that Kubernetes service discovery would add) and the exporter
contract's endpoint, and loads the rendered rule file; Alertmanager runs the rendered config. Every
rendered alert must stay quiet while the model is healthy, fire on its fault, and reach the receiver of
its team and severity. The time from fault to firing is recorded per alert (printed, and kept as a
test property). `mlspec verify` is run against the same Prometheus.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from behaviour_harness import (
    ContractExporter,
    ContractSeries,
    Process,
    Receiver,
    Traffic,
    firing,
    get,
    query,
    start_alertmanager,
    start_kserve,
    start_prometheus,
    wait_until,
)
from click.testing import CliRunner
from test_servingmetrics import parse_exposition
from tools import REPO_ROOT, require_tool, unavailable

from compiler.cli import cli
from compiler.live import verify
from compiler.live.prometheus import query as prom_query
from compiler.monitoring import serving_metrics
from compiler.pipeline import run
from golden import registry_of
from targets.prometheus import PrometheusTarget

MODEL = "beh-model"
NAMESPACE = "beh-prod"
SCALE = 1 / 30  # 5m windows become 10s, 1m `for:` 2s
HEALTHY = {"latency": 0.01, "fail_every": 0}
RATE = 8.0  # requests per second; the guard is minRequests 20 / 10s = 2/s

MONITORS: list[dict[str, Any]] = [
    {"name": "latency-p99", "kind": "latency", "quantile": 0.99, "threshold": "250ms", "window": "5m", "for": "1m",
     "severity": "critical", "runbook": "https://runbooks.example.com/beh/latency"},
    {"name": "error-rate", "kind": "error_rate", "threshold": "5%", "window": "5m", "for": "1m",
     "severity": "critical", "failures": "exporter", "runbook": "https://runbooks.example.com/beh/errors"},
    {"name": "availability", "kind": "slo", "objective": 99, "period": "30d", "failures": "exporter",
     "severity": "critical", "runbook": "https://runbooks.example.com/beh/slo"},
    {"name": "feature-drift", "kind": "data_drift", "features": ["amount"], "threshold": 0.2, "window": "5m",
     "for": "1m", "retrain": True, "owner": "data-science"},
    {"name": "request-floor", "kind": "throughput", "min": 1, "window": "5m", "for": "1m",
     "environments": ["production"], "overrides": {"production": {"severity": "warning"}}},
]

# alert -> (the fault that fires it, the receiver it must reach). Receivers are `<team>-<severity>`.
FAULTS = {
    "LatencyP99": ("slow", "risk-ml-critical"),
    "ErrorRate": ("failing", "risk-ml-critical"),
    "AvailabilityBurnRatePage": ("failing", "risk-ml-critical"),
    "AvailabilityBurnRateTicket": ("failing", "risk-ml-warning"),
    "FeatureDriftFeature": ("drift", "data-science-warning"),
    "DriftExporterStale": ("stale", "data-science-critical"),
    "RequestFloorLow": ("no-traffic", "risk-ml-warning"),
    "DriftExporterMissing": ("exporter-gone", "data-science-critical"),
}
# Alerts this layer can only prove quiet: their fault needs a broken predictor build (promtool proves
# them firing on fed series in rules.test.yaml).
QUIET_ONLY = {"ErrorRateErrorCounterMissing": "the model server exports the failure counter from start-up"}


def behaviour_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((REPO_ROOT / "specs" / "fraud-detector.yaml").read_text())
    spec["metadata"]["name"] = MODEL
    spec["serving"]["environments"] = {"staging": {"namespace": "beh-staging", "replicas": {"min": 0, "max": 1}},
                                       "production": {"namespace": NAMESPACE, "replicas": {"min": 1, "max": 2}}}
    spec["rollout"] = {"canary": [{"traffic": 10, "duration": "1m"}], "advanceWhenQuiet": ["latency-p99"],
                       "rollbackOn": ["error-rate"], "manualApproval": True, "minRequests": 20}
    spec["monitors"] = MONITORS
    return spec


def render(root: Path, receiver: str) -> dict[str, bytes]:
    (root / "specs").mkdir(parents=True)
    (root / "specs" / f"{MODEL}.yaml").write_text(yaml.safe_dump(behaviour_spec(), sort_keys=False))
    project = {"apiVersion": "mlspec/v1", "kind": "Project",
               "teams": {"risk-ml": {"namespaces": ["beh-staging", NAMESPACE]}, "data-science": {"namespaces": []}},
               "targets": {"prometheus": {
        "timeScale": SCALE, "retrainWebhookUrl": f"{receiver}/retrain",
        "alertmanager": {"groupWait": "1s", "groupInterval": "1s", "repeatInterval": "1h",
                         "teams": {team: {"webhookUrl": f"{receiver}/{team}"}
                                   for team in ("risk-ml", "data-science")}}}}}
    (root / "mlspec.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    result = run([root / "specs"], root=root, render=True, registry=registry_of(PrometheusTarget()), jobs=1)
    assert result.ok, "\n".join(d.to_text() for d in result.diagnostics)
    return result.files()


@dataclass
class Live:
    root: Path
    files: dict[str, bytes]
    prometheus: str
    alertmanager: str
    receiver: Receiver
    exporter: ContractExporter
    traffic: Traffic
    control: Path
    kserve: str

    def set_model(self, **settings: Any) -> None:
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({**HEALTHY, **settings}))
        tmp.replace(self.control)  # atomic: the server never reads half a file

    def alerts(self) -> set[str]:
        names = {a["alert"] for g in yaml.safe_load(self.files[f"models/{MODEL}/prometheus/production/rules.yaml"])
                 ["groups"] for a in g["rules"] if "alert" in a}
        return names


def rule_states(url: str, names: list[str]) -> list[Any]:
    """What Prometheus says about `names` (state, health, last error) and the series they read."""
    data = json.loads(get(f"{url}/api/v1/rules"))
    return [{k: r.get(k) for k in ("name", "state", "health", "lastError", "query")}
            for g in data["data"]["groups"] for r in g["rules"] if r.get("name") in names]


def binaries() -> tuple[str, str]:
    prometheus = require_tool("prometheus")
    alertmanager = require_tool("prometheus-alertmanager")
    try:
        import kserve  # noqa: F401
    except ImportError:
        unavailable("the kserve package (dev extra) is not installed")
    return prometheus, alertmanager


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prometheus_bin, alertmanager_bin = binaries()
    root = tmp_path_factory.mktemp("behaviour")
    work = root / "run"
    work.mkdir()
    receiver = Receiver()
    files = render(root / "project", receiver.url)
    rules = work / "rules.yaml"
    rules.write_bytes(files[f"models/{MODEL}/prometheus/production/rules.yaml"])
    am_config = work / "alertmanager.yml"
    am_config.write_bytes(files["prometheus/alertmanager/alertmanager.yml"])
    control = work / "control.json"
    control.write_text(json.dumps(HEALTHY))
    exporter = ContractExporter(ContractSeries({"model": MODEL, "model_version": "12", "environment": "production"},
                                               drift={"amount": 0.05}))
    processes: list[Process] = []
    traffic: Traffic | None = None
    try:
        kserve_proc, kserve_url = start_kserve(work, MODEL, control)
        processes.append(kserve_proc)
        am_proc, am_url = start_alertmanager(alertmanager_bin, work, am_config)
        processes.append(am_proc)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am_url.removeprefix("http://")]}]}]},
            "scrape_configs": [
                # What Kubernetes service discovery adds to a predictor pod's series, and nothing else.
                {"job_name": "kserve", "static_configs": [{"targets": [kserve_url.removeprefix("http://")]}],
                 "relabel_configs": [{"target_label": "namespace", "replacement": NAMESPACE},
                                     {"target_label": "pod", "replacement": f"{MODEL}-predictor-00001-7d9f8"}]},
                {"job_name": "contract", "honor_labels": True,
                 "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}]},
            ],
        }
        prom_proc, prom_url = start_prometheus(prometheus_bin, work, config)
        processes.append(prom_proc)
        traffic = Traffic(f"{kserve_url}/v1/models/{MODEL}:predict", RATE)
        yield Live(root, files, prom_url, am_url, receiver, exporter, traffic, control, kserve_url)
    finally:
        if traffic is not None:
            traffic.stop()
        for proc in reversed(processes):
            proc.stop()
        exporter.server.close()
        receiver.server.close()


def check_contract(live: Live) -> None:
    """The kserve stack of compiler/monitoring/serving_metrics.py is what the real server exports: names, the one
    `model_name` label, and prometheus_client's default buckets."""
    stack = serving_metrics.STACKS["kserve"]
    assert stack.latency is not None
    series = parse_exposition(get(f"{live.kserve}/metrics").decode())
    for metric in (stack.requests_metric, stack.latency.bucket_metric, stack.latency.count_metric):
        assert metric in series, metric
        assert {frozenset(ls) - {"le"} for ls in series[metric]} == {frozenset({"model_name"})}
        assert {ls["model_name"] for ls in series[metric]} == {MODEL}
    bounds = sorted(float(ls["le"]) for ls in series[stack.latency.bucket_metric] if ls["le"] != "+Inf")
    assert tuple(bounds) == stack.latency.buckets
    assert serving_metrics.CONTRACT_ERRORS in series  # this predictor honours the exporter contract


def verify_cli(live: Live, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", "--root", str(live.root / "project"), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def check_verify(live: Live) -> None:
    """`mlspec verify` against the healthy stack: clean in production, and each problem class found."""
    code, out = verify_cli(live, "--prometheus", live.prometheus, "--env", "production")
    assert (code, out.splitlines()[-1]) == (0, "ok: every queried series exists (1 model(s))"), out
    # Staging is rendered but nothing serves it: every serving series misses its namespace.
    code, out = verify_cli(live, "--prometheus", live.prometheus, "--env", "staging")
    assert code == 1, out
    assert ('VER002 beh-model/staging: request_predict_seconds_count has no series with namespace="beh-staging"; '
            'namespace values: beh-prod') in out, out
    assert 'VER002 beh-model/staging: ml_feature_drift_score has no series with environment="staging"' in out, out
    # Unreachable Prometheus and an unknown environment are usage problems.
    assert verify_cli(live, "--prometheus", "http://127.0.0.1:9", "--env", "production")[0] == 2
    assert verify_cli(live, "--prometheus", live.prometheus, "--env", "qa")[0] == 2
    # A rule written for a bucket the server does not have (300ms: prometheus_client has .25 and .5).
    result = run([live.root / "project" / "specs"], root=live.root / "project", render=True)
    plan = next(s.plan for s in result.specs if s.plan is not None)
    rules = list(verify.rule_groups(result.files()))
    wrong = dict(rules[0], expr=f'sum(rate(request_predict_seconds_bucket{{namespace="{NAMESPACE}", '
                                f'model_name="{MODEL}", le=~"0.3|0.3"}}[10s]))')
    asked = verify.check_plan(plan, "production", [*rules, wrong], lambda e: prom_query(live.prometheus, e))
    assert [p.code for p in asked] == ["VER003"], asked
    assert "has no bucket le=~\"0.3|0.3\"; its buckets: +Inf, 0.005, 0.01" in asked[0].message
    # A latency threshold above the highest live bucket (10s) can never fire.
    slow = [dataclasses.replace(m, threshold=12.0) if m.kind == "latency" else m for m in plan.monitors]
    never = verify.check_plan(dataclasses.replace(plan, monitors=tuple(slow)), "production", rules,
                              lambda e: prom_query(live.prometheus, e))
    assert [p.code for p in never] == ["VER004"], never


def test_every_alert_is_quiet_when_healthy_fires_on_its_fault_and_reaches_its_receiver(
        live: Live, record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.alerts() == set(FAULTS) | set(QUIET_ONLY), "every rendered alert needs a fault or a reason"
    # Warm up: the 10s windows fill with healthy traffic, then a healthy stretch must stay silent.
    wait_until(lambda: query(live.prometheus, f'ml:requests:rate10s{{model="{MODEL}"}} > 4'), 40,
               "healthy traffic recorded by the rules")
    time.sleep(12)  # longer than the 10s windows and keep_firing_for: no start-up transient is left
    healthy_start = time.monotonic()
    while time.monotonic() - healthy_start < 10:
        assert not firing(live.prometheus), f"alerts while healthy: {sorted(firing(live.prometheus))}"
        time.sleep(1)

    check_contract(live)
    check_verify(live)

    timings: dict[str, float] = {}

    def fire(alerts: list[str], since: float, timeout: float) -> None:
        def all_firing() -> bool:
            now = firing(live.prometheus)
            for name in alerts:
                if name in now and name not in timings:
                    timings[name] = time.monotonic() - since
            return all(name in now for name in alerts)

        try:
            wait_until(all_firing, timeout, f"alerts {alerts} firing", interval=0.25)
        except AssertionError as exc:  # the message is made before the wait: say what fired by the end
            raise AssertionError(f"{exc} (fired: {sorted(set(alerts) & set(timings))})\n"
                                 f"rule states: {rule_states(live.prometheus, alerts)}") from None

    # Faults that need traffic, in parallel: slow and failing requests, a drifted feature, a stuck job.
    t0 = time.monotonic()
    live.set_model(latency=0.4, fail_every=3)
    live.exporter.series.drift = {"amount": 0.5}
    live.exporter.series.fresh = False
    live.exporter.series.last_run = time.time() - 3600
    fire([n for n, (fault, _) in FAULTS.items() if fault in ("slow", "failing", "drift", "stale")], t0, 90)
    assert "ErrorRateErrorCounterMissing" not in firing(live.prometheus)

    # Then traffic stops and the drift job disappears.
    t1 = time.monotonic()
    live.traffic.rate = 0
    live.exporter.series.present = False
    fire(["RequestFloorLow", "DriftExporterMissing"], t1, 90)

    # Each alert reached the receiver of its team and severity, after its fault.
    for name, (_, receiver) in FAULTS.items():
        since = t1 if name in ("RequestFloorLow", "DriftExporterMissing") else t0
        # A deadline for the delivery, not a speed requirement: Alertmanager's group_wait plus a loaded CI.
        wait_until(lambda name=name, since=since: any(d.at >= since for d in live.receiver.delivered(name)), 90,
                   f"{name} delivered")
        got = {d.receiver for d in live.receiver.delivered(name) if d.at >= since and d.path != "/retrain"}
        assert got == {receiver}, f"{name} went to {got}, expected {receiver}"
    retrained = {n for d in live.receiver.deliveries if d.path == "/retrain" for n in d.alertnames}
    assert retrained == {"FeatureDriftFeature"}

    for name, seconds in sorted(timings.items()):
        record_property(f"fault_to_firing_{name}", round(seconds, 2))
    with capsys.disabled():
        print("\nfault -> firing (s, windows 30x shorter): "
              + ", ".join(f"{n} {s:.1f}" for n, s in sorted(timings.items(), key=lambda x: x[1])))
