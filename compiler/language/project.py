"""The optional project configuration, `mlspec.yaml` at the root of the spec repository.

It holds organisation defaults and policy. Specs inherit the defaults and are checked against the
policy by `compiler.check.rules`; each target validates its own `targets.<name>` settings with the model it
declares, so the core never needs to know a target's options.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

import os
from pathlib import Path as FsPath
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from compiler.diagnostics import Diagnostic
from compiler.language.patch_spec import Patch
from compiler.language.schema_errors import diagnostics_from_validation
from compiler.language.spec import Autoscaling, Duration, Email, Name, Replicas, Resources, Severity, Strict, WebUrl
from compiler.language.specfiles import PROJECT_FILE
from compiler.language.yamlsource import Document, load_document, read_source


class TeamPolicy(Strict):
    namespaces: list[Name] = Field(default_factory=list, description="Namespaces the team may deploy to.")
    email: Email | None = Field(None, description="Alert receiver address of the team.")
    slack: str | None = Field(None, description="Slack channel of the team, e.g. #risk-alerts.")


class Defaults(Strict):
    severity: Severity = Field("warning", description="Severity of every monitor that does not set its own.")
    runbookBase: WebUrl | None = Field(None, description="Runbook URL prefix: a monitor's default runbook is "
                                                      "<runbookBase>/<model>/<monitor>.")
    replicas: Replicas = Replicas(min=1, max=3)
    resources: Resources = Resources(cpu="1", memory="2Gi")
    autoscaling: Autoscaling = Autoscaling()
    trainingResources: Resources = Resources(cpu="1", memory="4Gi")


class Project(Strict):
    """Organisation defaults and policy for every spec in the repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    apiVersion: Literal["mlspec/v1"] = "mlspec/v1"
    kind: Literal["Project"] = "Project"
    registry: str | None = Field(None, description="Default image registry, used in examples and CI.")
    allowedRegistries: list[str] = Field(
        default_factory=list, description="Image prefixes specs may use; empty allows any.")
    teams: dict[Name, TeamPolicy] = Field(
        default_factory=dict, description="Known teams and their namespaces; empty disables the policy.")
    environments: list[Name] = Field(
        default_factory=list, description="Allowed environment names in promotion order; empty allows any.")
    defaults: Defaults = Defaults()
    servingStack: Literal["kserve", "knative", "mlserver"] = Field(
        "kserve", description="Whose metric names the monitors query (see docs/metrics.md).")
    scrapeInterval: Duration = Field(
        "1m", description="How often Prometheus scrapes the serving metrics (Prometheus' default global "
                          "scrape_interval is 1m); a rate window or gate under two scrapes sees no data.")
    targets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-target settings; `enabled: false` turns a target off.")
    patches: list[Patch] = Field(
        default_factory=list, description="Declared patches applied to every model's rendered objects before "
                                          "the spec's own (docs/patches.md); `name` defaults to each model's.")

    def monitor_severity(self, severity: Severity | None) -> Severity:
        """A monitor's severity: its own, else the project's default (one place, for the plan and the rules)."""
        return severity if severity is not None else self.defaults.severity

    def target_enabled(self, name: str) -> bool:
        return bool(self.targets.get(name, {}).get("enabled", True))

    def target_settings(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.targets.get(name, {}).items() if k != "enabled"}


def load_project(root: FsPath) -> tuple[Project, Document | None, list[Diagnostic]]:
    path = root / PROJECT_FILE
    if not path.is_file():
        return Project(), None, []
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = path.as_posix()
    raw, unreadable = read_source(path, shown)
    if raw is None:
        return Project(), None, [unreadable] if unreadable else []
    doc, problems = load_document(raw, shown)
    if doc is None:
        return Project(), None, problems
    header = [
        Diagnostic("MLS402", f"{key} must be {expected!r}", path=(key,), hint="mlspec.yaml starts with "
                   "`apiVersion: mlspec/v1` and `kind: Project`")
        for key, expected in (("apiVersion", "mlspec/v1"), ("kind", "Project"))
        if key in doc.data and doc.data[key] != expected
    ]
    if header:
        return Project(), doc, [*problems, *(doc.source.place(d) for d in header)]
    try:
        project = Project.model_validate(doc.data)
    except ValidationError as exc:
        return Project(), doc, [*problems, *diagnostics_from_validation(exc, doc, Project)]
    return project, doc, problems
