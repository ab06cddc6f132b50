"""Alertmanager routing: one fragment per team (receivers by severity) and the assembled config.

The root route first sends every `retrain="true"` alert to the retraining webhook, once per model's
cooldown (`repeat_interval`), and continues, so the owning team still hears about it. Team routes
match `team`, then `severity`. A monitor whose `owner` is an email address also reaches that address
(matched on the `owner` label its alerts carry), and the team still hears. Secrets stay out: Slack
and PagerDuty keys are read from files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from compiler.language.units import format_duration
from compiler.planning.plan import Plan, TeamPlan
from compiler.render.plugins import every_part
from targets.prometheus.promql import quote
from targets.prometheus.settings import PrometheusSettings, TeamReceivers

SEVERITIES = ("critical", "warning", "info")
NULL_RECEIVER = "mlspec-null"
RETRAIN_RECEIVER = "mlspec-retrain"
DEFAULT_COOLDOWN_SECONDS = 86_400


def matcher(name: str, value: str) -> str:
    return f"{name}={quote(value)}"


class AlertShare(NamedTuple):
    """What the Alertmanager config reads of one model (PrometheusTarget.project_part)."""

    name: str
    spec_path: str  # the files name their sources
    teams: tuple[str, ...]  # the model's team, then its monitors' teams
    owner_emails: tuple[str, ...]  # monitors' `owner` addresses
    retrain_route: dict[str, Any] | None  # the route to the retraining webhook, when a monitor retrains
    project_teams: tuple[TeamPlan, ...]  # mlspec.yaml's teams (the same in every plan of a render)


def share(plan: Plan) -> AlertShare:
    return AlertShare(plan.name, plan.provenance.spec_path, (plan.team, *(m.team for m in plan.monitors)),
                      tuple(m.owner_email for m in plan.monitors if m.owner_email), retrain_route(plan),
                      plan.project.teams)


def shares_of(plans: Sequence[Plan], parts: Mapping[str, Any] | None) -> list[AlertShare]:
    """Every model's share in name order (the plans' order), from `parts` when it has them all."""
    return sorted((s for _, s in every_part(plans, parts, AlertShare, share)), key=lambda s: s.name)


def teams(shares: Sequence[AlertShare]) -> list[str]:
    return sorted({team for s in shares for team in s.teams})


def receivers_of(team: str, shares: Sequence[AlertShare], settings: PrometheusSettings) -> TeamReceivers:
    configured = settings.alertmanager.teams.get(team)
    project = next((t for s in shares for t in s.project_teams if t.name == team), None)
    return TeamReceivers(
        email=(configured.email if configured else None) or (project.email if project else None),
        slackChannel=(configured.slackChannel if configured else None) or (project.slack if project else None),
        webhookUrl=configured.webhookUrl if configured else None,
        pagerdutyRoutingKeyFile=configured.pagerdutyRoutingKeyFile if configured else None,
    )


def receiver_name(team: str, severity: str) -> str:
    return f"{team}-{severity}"


def team_fragment(team: str, shares: Sequence[AlertShare], settings: PrometheusSettings) -> dict[str, Any]:
    """`route` (a child of the root route) and `receivers` for one team."""
    config = receivers_of(team, shares, settings)
    receivers = []
    for severity in SEVERITIES:
        receiver: dict[str, Any] = {"name": receiver_name(team, severity)}
        if config.email:
            receiver["email_configs"] = [{"to": config.email, "send_resolved": True}]
        if severity == "critical" and config.pagerdutyRoutingKeyFile:
            receiver["pagerduty_configs"] = [{"routing_key_file": config.pagerdutyRoutingKeyFile,
                                              "severity": "critical"}]
        if config.slackChannel:
            receiver["slack_configs"] = [{"channel": config.slackChannel, "send_resolved": severity != "info"}]
        if config.webhookUrl:
            receiver["webhook_configs"] = [{"url": config.webhookUrl, "send_resolved": True}]
        receivers.append(receiver)
    route = {
        "receiver": receiver_name(team, "warning"),
        "matchers": [matcher("team", team)],
        "routes": [{"receiver": receiver_name(team, s), "matchers": [matcher("severity", s)]} for s in SEVERITIES],
    }
    return {"route": route, "receivers": receivers}


def owners(shares: Sequence[AlertShare]) -> list[str]:
    return sorted({email for s in shares for email in s.owner_emails})


def owner_receiver(email: str) -> str:
    return f"owner-{email}"


def owner_routes(shares: Sequence[AlertShare]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A monitor's `owner: <email>` gets its alerts by email (rules carry the `owner` label); the route
    continues, so the team's receivers still hear about it."""
    routes, receivers = [], []
    for email in owners(shares):
        routes.append({"receiver": owner_receiver(email), "matchers": [matcher("owner", email)], "continue": True})
        receivers.append({"name": owner_receiver(email), "email_configs": [{"to": email, "send_resolved": True}]})
    return routes, receivers


def retrain_route(plan: Plan) -> dict[str, Any] | None:
    if not any(retrains(plan, m.name) for m in plan.monitors):
        return None
    retraining = plan.pipeline.retraining
    cooldown = retraining.cooldown_seconds if retraining else DEFAULT_COOLDOWN_SECONDS
    return {
        "receiver": RETRAIN_RECEIVER,
        "matchers": [matcher("retrain", "true"), matcher("model", plan.name)],
        "group_by": ["model", "model_version", "environment", "monitor"],
        "repeat_interval": format_duration(max(cooldown, 60) * 1000),
        "continue": True,
    }


def retrain_routes(shares: Sequence[AlertShare]) -> list[dict[str, Any]]:
    return [s.retrain_route for s in shares if s.retrain_route is not None]


def retrains(plan: Plan, monitor: str) -> bool:
    """The monitor asked for retraining and the pipeline did not switch drift retraining off."""
    retraining = plan.pipeline.retraining
    if not plan.monitor(monitor).retrain:
        return False
    return retraining is None or retraining.on_drift


def config(shares: Sequence[AlertShare], settings: PrometheusSettings) -> dict[str, Any]:
    am = settings.alertmanager
    fragments = [team_fragment(team, shares, settings) for team in teams(shares)]
    by_owner, owner_receivers = owner_routes(shares)
    return {
        "global": {
            "smtp_smarthost": am.smtpSmarthost,
            "smtp_from": am.smtpFrom,
            "smtp_require_tls": am.smtpRequireTls,
            "slack_api_url_file": am.slackApiUrlFile,
        },
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(am.groupBy),
            "group_wait": am.groupWait,
            "group_interval": am.groupInterval,
            "repeat_interval": am.repeatInterval,
            "routes": [*retrain_routes(shares), *by_owner, *(f["route"] for f in fragments)],
        },
        "receivers": [
            {"name": NULL_RECEIVER},
            {"name": RETRAIN_RECEIVER, "webhook_configs": [{"url": settings.retrainWebhookUrl,
                                                            "send_resolved": False}]},
            *owner_receivers,
            *(r for f in fragments for r in f["receivers"]),
        ],
    }
