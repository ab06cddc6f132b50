"""`targets.prometheus` in mlspec.yaml. Every key has a default that works without the file."""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from compiler.language.spec import Email, WebUrl  # http(s) only: these reach alert annotations (MLS241)
from compiler.language.units import duration_ms


def _duration(value: str) -> str:
    if duration_ms(value) is None:
        raise ValueError(f"{value!r} is not a Prometheus duration such as 30s, 5m or 4h")
    return value


Duration = Annotated[str, AfterValidator(_duration)]


def _version(value: str) -> str:
    if not re.fullmatch(r"v?[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?", value):
        raise ValueError(f"{value!r} is not a version such as 1.19 or 1.19.2")
    return value


Version = Annotated[str, AfterValidator(_version)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamReceivers(_Strict):
    """Where one team's alerts go. Unset fields fall back to the team's email/slack in mlspec.yaml."""

    email: Email | None = None
    slackChannel: str | None = None
    webhookUrl: WebUrl | None = Field(None, description="Generic webhook for every severity of the team.")
    pagerdutyRoutingKeyFile: str | None = Field(
        None, description="File (a mounted Secret) holding the PagerDuty routing key; critical alerts page.")


class AlertmanagerSettings(_Strict):
    smtpSmarthost: str = Field("localhost:25", description="host:port of the SMTP relay for email receivers.")
    smtpFrom: str = "alertmanager@localhost"
    smtpRequireTls: bool = False
    slackApiUrlFile: str = Field("/etc/alertmanager/secrets/slack-api-url",
                                 description="File (a mounted Secret) holding the Slack webhook URL.")
    groupBy: list[str] = Field(default_factory=lambda: ["alertname", "model", "environment"])
    groupWait: Duration = "30s"
    groupInterval: Duration = "5m"
    repeatInterval: Duration = "4h"
    teams: dict[str, TeamReceivers] = Field(default_factory=dict, description="Receivers per team name.")


class PrometheusSettings(_Strict):
    version: str = Field("2.42", description="Prometheus version the rules are written for (informational; "
                                             "rules avoid features newer than 2.42: no group labels or query_offset).")
    ruleSelectorLabels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels on every PrometheusRule so the operator's ruleSelector picks it up.")
    ruleNamespace: str | None = Field(None, description="Namespace of the PrometheusRule objects; "
                                                        "default the environment's namespace.")
    retrainWebhookUrl: WebUrl = Field("http://mlspec-retrain.mlops.svc:8080/v1/alerts",
                                   description="Alertmanager webhook that starts retraining runs.")
    minRequestRate: Annotated[float, Field(ge=0)] = Field(
        0.1, description="Requests per second below which live-traffic alerts stay silent (low-traffic guard).")
    stalenessFactor: Annotated[float, Field(ge=1)] = Field(
        2.0, description="A batch-exported metric is stale after this many monitor windows without a run.")
    stalenessRunbookUrl: WebUrl = Field(
        "https://mlspec.dev/runbooks/stale-exporter-metrics",
        description="Runbook of staleness alerts for monitors that have no runbook of their own.")
    inferenceErrors: Literal["runtime", "exporter"] = Field(
        "runtime", description="Who counts failed requests: `runtime` (only what the serving runtime exports; "
                               "the KServe Python server and vLLM count none) or `exporter` (the predictors export "
                               "the contract's ml_inference_errors_total, initialised at 0; docs/metrics.md).")
    knativeVersion: Version = Field(
        "1.20",
        description="Knative Serving version for servingStack knative: up to 1.18 the queue-proxy exports "
                    "OpenCensus names (revision_request_count), from 1.19 OpenTelemetry ones.")
    timeScale: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, description="Multiply every rule window, `for:` and `keep_firing_for` by this (tests only: a "
                         "behavioural test runs minutes of alerting in seconds). Never below 1s.")
    keepFiringFor: Duration | None = Field("5m", description="keep_firing_for on threshold alerts (anti-flapping).")
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
