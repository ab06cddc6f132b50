"""Semantic rules over a schema-valid spec. Each rule yields every finding; none stops the others."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from compiler.check import credentials
from compiler.check.cycles import find_cycle
from compiler.check.text_rules import structured_text_problems
from compiler.diagnostics import Diagnostic, Path, Severity, closest, dotted
from compiler.language.project import Project
from compiler.language.spec import ErrorRate, Hallucination, Slo, Spec, Throughput
from compiler.language.units import duration_ms, format_duration, is_cron, percent
from compiler.planning.metric_direction import gate_direction, gate_kind
from compiler.planning.plan import MONITOR_DEFAULTS
from compiler.planning.training import in_written_order

Rule = Callable[[Spec, Project], Iterable[Diagnostic]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _err(code: str, path: Path, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, path=path, hint=hint)


def _warn(code: str, path: Path, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, severity=Severity.WARNING, path=path, hint=hint)


def _duplicates(prefix: Path, field: str, names: list[str], what: str) -> Iterator[Diagnostic]:
    """MLS201 at `(*prefix, i, field)` for each name seen before it."""
    seen: dict[str, Path] = {}
    for i, name in enumerate(names):
        if name in seen:
            yield _err("MLS201", (*prefix, i, field), f"{what} {name!r} appears twice",
                       f"first at {dotted(seen[name])}")
        else:
            seen[name] = (*prefix, i, field)


@rule
def unique_names(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    for prefix, field, names, what in (
        (("pipeline", "steps"), "name", [s.name for s in spec.pipeline.steps], "step"),
        (("monitors",), "name", [m.name for m in spec.monitors], "monitor"),
        (("data", "features"), "name", [f.name for f in spec.data.features], "feature"),
        (("gates",), "metric", [g.metric for g in spec.gates], "gate on"),
        (("owners",), "email", [o.email.lower() for o in spec.owners], "owner"),
    ):
        if len(set(names)) < len(names):  # nearly never: only then are paths built
            yield from _duplicates(prefix, field, names, what)


@rule
def step_graph(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    names = [s.name for s in spec.pipeline.steps]
    graph: dict[str, list[str]] = {}
    for i, step in enumerate(spec.pipeline.steps):
        graph.setdefault(step.name, [])
        for j, dep in enumerate(step.after):
            if dep not in names:
                yield _err("MLS202", ("pipeline", "steps", i, "after", j), f"step {dep!r} does not exist",
                           _suggest(dep, names))
            else:
                graph[step.name].append(dep)
        if not step.command and not step.args:
            yield _err("MLS236", ("pipeline", "steps", i), f"step {step.name!r} has neither command nor args",
                       "say what the step runs, e.g. command: [python, -m, train]")
    # Distinct steps each after steps written above them (as specs write them): no cycle to look for.
    ordered = len(set(names)) == len(names) and in_written_order(spec.pipeline.steps)
    cycle = None if ordered else find_cycle(graph)
    if cycle:
        index = names.index(cycle[0])
        yield _err("MLS203", ("pipeline", "steps", index, "after"),
                   "steps depend on each other in a cycle: " + " -> ".join([*cycle, cycle[0]]))


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    found = closest(word, choices)
    return f"did you mean {found!r}?" if found else None


@rule
def rollout_shape(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    if spec.rollout is None:
        return
    previous = 0.0
    for i, step in enumerate(spec.rollout.canary):
        if step.traffic >= 100:
            yield _err("MLS204", ("rollout", "canary", i, "traffic"), "a canary step must send less than 100%",
                       "full traffic is the final stage; it follows the last canary step")
        elif step.traffic <= previous:
            yield _err("MLS204", ("rollout", "canary", i, "traffic"),
                       f"canary traffic {step.traffic:g}% does not increase on {previous:g}%")
        previous = max(previous, step.traffic)
    envs = list(spec.serving.environments)
    if spec.rollout.environment is not None and spec.rollout.environment not in envs:
        yield _err("MLS202", ("rollout", "environment"),
                   f"environment {spec.rollout.environment!r} is not in serving.environments",
                   _suggest(spec.rollout.environment, envs))
    monitors = [m.name for m in spec.monitors]
    for field in ("advanceWhenQuiet", "rollbackOn"):
        for i, name in enumerate(getattr(spec.rollout, field)):
            if name not in monitors:
                yield _err("MLS202", ("rollout", field, i), f"monitor {name!r} does not exist",
                           _suggest(name, monitors) or "define it under monitors")
    if spec.serving.pattern in ("batch", "edge"):
        yield _err("MLS231", ("rollout",), f"a {spec.serving.pattern} model has no live traffic to roll out",
                   "remove the rollout section")
    if spec.model.previous is None and (spec.rollout.canary or spec.rollout.rollbackOn):
        yield _warn("MLS301", ("model",), "the rollout has no previous version to roll back to",
                    "set model.previous to the version in production (omit only for a first deployment)")


@rule
def schedules(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    if spec.pipeline.schedule is not None:
        yield from _cron(spec.pipeline.schedule, ("pipeline", "schedule"))
    if spec.serving.batch is not None:
        yield from _cron(spec.serving.batch.schedule, ("serving", "batch", "schedule"))


def _cron(expr: str, path: Path) -> Iterator[Diagnostic]:
    fields = expr.split()
    if len(fields) != 5:
        yield _err("MLS206", path, f"{expr!r} has {len(fields)} fields; a schedule has five",
                   "minute hour day-of-month month day-of-week, e.g. '0 3 * * 1'")
    elif not is_cron(expr):
        yield _err("MLS206", path, f"{expr!r} is not a valid cron expression",
                   "minute hour day-of-month month day-of-week, e.g. '0 3 * * 1'")


@rule
def gates(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    produced = {m for s in spec.pipeline.steps for m in s.metrics}
    for i, gate in enumerate(spec.gates):
        path: Path = ("gates", i)
        kind = gate_kind(gate.metric, gate.kind)
        direction = gate_direction(gate)
        if gate.min is None and gate.max is None and gate.baseline is None:
            yield _err("MLS207", path, f"gate {gate.metric!r} has no threshold", "set min, max or baseline")
        if gate.min is not None and gate.max is not None and gate.min > gate.max:
            yield _err("MLS232", (*path, "min"), f"min {gate.min:g} is larger than max {gate.max:g}")
        if kind in ("latency", "cost") and gate.min is not None and gate.max is None:
            yield _err("MLS207", (*path, "min"), f"a {kind} gate needs a maximum, not a minimum",
                       f"lower {kind} is better: use max")
        if direction == "lower" and gate.min is not None and gate.max is None and kind == "quality":
            yield _err("MLS207", (*path, "min"), f"{gate.metric!r} is better when lower: use max")
        if direction == "higher" and gate.max is not None and gate.min is None:
            yield _err("MLS207", (*path, "max"), f"{gate.metric!r} is better when higher: use min")
        if gate.baseline is not None and direction is None:
            yield _err("MLS207", (*path, "baseline"), f"which way is better for {gate.metric!r}?",
                       "set direction: higher or direction: lower")
        if gate.baseline is not None and isinstance(gate.baseline.tolerance, str) and \
                percent(gate.baseline.tolerance) is None:
            yield _err("MLS105", (*path, "baseline", "tolerance"),
                       f"{gate.baseline.tolerance!r} is not a tolerance", "write 0.005 (absolute) or 1% (relative)")
        if produced and gate.metric not in produced:
            yield _err("MLS202", (*path, "metric"), f"no pipeline step outputs metric {gate.metric!r}",
                       _suggest(gate.metric, produced) or "list it under the evaluating step's metrics")


@rule
def risk_tier(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    risk = spec.metadata.risk
    if risk == "unacceptable":
        yield _err("MLS208", ("metadata", "risk"), "unacceptable-risk systems are prohibited and are not deployed",
                   "EU AI Act Art. 5; if the assessment is wrong, record the correct tier")
        return
    if risk != "high":
        return
    roles = {r for o in spec.owners for r in o.roles}
    if "approver" not in roles:
        yield _err("MLS210", ("owners",), "high risk needs an owner with the approver role",
                   "add `approver` to the roles of the person who signs off production")
    if "oncall" not in roles:
        yield _err("MLS211", ("owners",), "high risk needs an owner with the oncall role")
    card = spec.modelCard
    missing = [f for f in ("intendedUse", "limitations") if card is None or getattr(card, f) is None]
    if missing:
        yield _err("MLS212", ("modelCard",) if card else (), "high risk needs a model card with " +
                   " and ".join(missing), "technical documentation, EU AI Act Art. 11")
    if not spec.gates:
        yield _err("MLS213", (), "high risk needs at least one evaluation gate", "declared accuracy, Art. 15")
    serving_live = spec.serving.pattern in ("realtime", "streaming")
    rollout = spec.rollout
    if serving_live and (rollout is None or (rollout.shadow is None and not rollout.canary)):
        yield _err("MLS214", ("rollout",) if rollout else (), "high risk needs a shadow or a canary stage")
    if rollout is not None and rollout.manualApproval is False:
        yield _err("MLS215", ("rollout", "manualApproval"), "high risk requires manual approval for production",
                   "human oversight, EU AI Act Art. 14")
    if spec.serving.payloadLogging is False:
        yield _err("MLS216", ("serving", "payloadLogging"), "high risk requires payload logging",
                   "automatic event logs, EU AI Act Art. 12")


@rule
def policy(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    team = spec.metadata.team
    if project.teams:
        if team not in project.teams:
            yield _err("MLS220", ("metadata", "team"), f"team {team!r} is not in mlspec.yaml",
                       _suggest(team, project.teams) or "ask the platform team to add it")
        else:
            allowed = project.teams[team].namespaces
            for env, conf in spec.serving.environments.items():
                if allowed and conf.namespace not in allowed:
                    yield _err("MLS220", ("serving", "environments", env, "namespace"),
                               f"team {team!r} may not deploy to namespace {conf.namespace!r}",
                               "allowed: " + ", ".join(allowed))
    if project.environments:
        for env in spec.serving.environments:
            if env not in project.environments:
                yield _err("MLS226", ("serving", "environments", env),
                           f"environment {env!r} is not defined in mlspec.yaml",
                           _suggest(env, project.environments) or "allowed: " + ", ".join(project.environments))
    images: list[tuple[Path, str]] = [(("pipeline", "image"), spec.pipeline.image)]
    images += [(("pipeline", "steps", i, "image"), s.image) for i, s in enumerate(spec.pipeline.steps) if s.image]
    for path, image in images:
        problem = image_problem(image)
        if problem:
            yield _err("MLS221", path, problem, "tag images with an immutable version or pin a digest")
        if project.allowedRegistries and not any(image.startswith(r.rstrip("/") + "/")
                                                 for r in project.allowedRegistries):
            yield _err("MLS227", path, f"image {image!r} is not from an allowed registry",
                       "allowed: " + ", ".join(project.allowedRegistries))


_IMAGE_RE = re.compile(r"(?P<repo>[a-z0-9]+(?:[._/:-][a-z0-9]+)*?)(?::(?P<tag>[\w][\w.-]{0,127}))?"
                       r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?")


def image_problem(image: str) -> str | None:
    match = _IMAGE_RE.fullmatch(image)
    if not match:
        return f"{image!r} is not an image reference"
    if match.group("digest"):
        return None
    tag = match.group("tag")
    if tag is None:
        return f"image {image!r} has no tag, which means latest"
    if tag == "latest":
        return f"image {image!r} uses the movable tag latest"
    return None


_MOVABLE = {"latest", "production", "staging", "prod", "champion", "challenger", "current", "stable", "head",
            "main", "master", "none", "archived"}


_PINNED = re.compile(r"@([0-9a-f]{40}|sha256:[0-9a-f]{64})\Z")


@rule
def immutable_model(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    version = spec.model.version
    if version.lower() in _MOVABLE:
        yield _err("MLS224", ("model", "version"), f"{version!r} is an alias that can move",
                   "use the registry's immutable version number")
    uri = spec.model.uri
    last = uri.rstrip("/").rsplit("/", 1)[-1]
    pinned = _PINNED.search(last)  # a commit or digest is immutable
    if ("@" in last and not pinned) or last.lower() in _MOVABLE:
        yield _err("MLS224", ("model", "uri"), f"{uri!r} points at an alias, not a version",
                   f"point at the stored version, e.g. .../{version}")


_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)


@rule
def no_secret_values(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    for i, step in enumerate(spec.pipeline.steps):
        for name, value in step.env.items():
            # A credential-shaped value is reported by text_problems (for every string, env included).
            if isinstance(value, str) and _SECRET_NAME.search(name) and credentials.first(value) is None:
                yield _err("MLS225", ("pipeline", "steps", i, "env", name),
                           f"{name} looks like a secret written in the spec",
                           "reference it instead: {secretRef: {name: SECRET, key: KEY}}")


@rule
def untrusted_text(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    yield from structured_text_problems(spec)  # the string rules read the raw document: check_spec


@rule
def serving_shape(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    serving = spec.serving
    needs = {"streaming": "stream", "batch": "batch", "edge": "edge"}
    wanted = needs.get(serving.pattern)
    if wanted and getattr(serving, wanted) is None:
        yield _err("MLS230", ("serving",), f"pattern {serving.pattern} needs serving.{wanted}")
    for pattern, section in needs.items():
        if section != wanted and getattr(serving, section) is not None:
            yield _err("MLS231", ("serving", section), f"serving.{section} applies only to pattern {pattern}")
    for env, conf in serving.environments.items():
        if conf.replicas is not None and conf.replicas.min > conf.replicas.max:
            yield _err("MLS232", ("serving", "environments", env, "replicas"),
                       f"replicas.min {conf.replicas.min} is larger than replicas.max {conf.replicas.max}")
    for i, feature in enumerate(spec.data.features):
        if feature.min is not None and feature.max is not None and feature.min > feature.max:
            yield _err("MLS232", ("data", "features", i), f"feature {feature.name!r}: min is larger than max")
    data = spec.data
    if (data.dvc is None) == (data.file is None):
        yield _err("MLS235", ("data",), "pin the data with exactly one of dvc or file",
                   "dvc: {path, md5} for DVC-tracked data, file: {uri, sha256} for a single file")
    if data.dvc is not None and (data.dvc.repo is None) != (data.dvc.commit is None):
        yield _err("MLS235", ("data", "dvc"), "a data registry needs both repo and commit")


_RATIO_MONITORS = (ErrorRate, Hallucination)


@rule
def monitor_fields(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    features = [f.name for f in spec.data.features]
    owners: set[str] | None = None  # built for the first monitor with an owner
    runbook_base = project.defaults.runbookBase
    for i, monitor in enumerate(spec.monitors):
        path: Path = ("monitors", i)
        if monitor.kind == "data_drift" and features:
            for j, name in enumerate(monitor.features):
                if name not in features:
                    yield _err("MLS202", (*path, "features", j), f"feature {name!r} is not in data.features",
                               _suggest(name, features))
        if isinstance(monitor, Throughput):
            if monitor.min is None and monitor.max is None:
                yield _err("MLS233", path, "a throughput monitor needs min or max (requests per second)")
            elif monitor.min is not None and monitor.max is not None and monitor.min > monitor.max:
                yield _err("MLS232", path, "throughput min is larger than max")
        elif isinstance(monitor, Slo):
            if monitor.sli == "latency" and monitor.latency is None:
                yield _err("MLS233", path, "a latency SLO needs `latency`: the threshold of a good request")
        elif isinstance(monitor, _RATIO_MONITORS) and not isinstance(monitor.threshold, str) \
                and monitor.threshold > 1:
            yield _err("MLS105", (*path, "threshold"), f"{monitor.threshold:g} is more than 100%",
                       f"write {monitor.threshold:g}% or a ratio such as {monitor.threshold / 100:g}")
        if monitor.owner is not None:
            if owners is None:
                owners = {o.email for o in spec.owners} | {spec.metadata.team} | set(project.teams)
            if monitor.owner not in owners:
                yield _err("MLS202", (*path, "owner"), f"{monitor.owner!r} is not an owner's email or a team",
                           _suggest(monitor.owner, sorted(owners)))
        if monitor.runbook is None and runbook_base is None and \
                project.monitor_severity(monitor.severity) == "critical":
            yield _err("MLS234", path, f"critical monitor {monitor.name!r} needs a runbook",
                       "set runbook: https://... or defaults.runbookBase in mlspec.yaml")
    if spec.serving.pattern in ("realtime", "streaming") and not spec.monitors:
        yield _warn("MLS302", ("monitors",), "a served model without monitors fails silently",
                    "add at least latency and error_rate monitors")
    retraining = spec.pipeline.retraining
    if retraining is not None and retraining.onDrift and not any(m.retrain for m in spec.monitors):
        yield _warn("MLS303", ("pipeline", "retraining", "onDrift"),
                    "no monitor has retrain: true, so drift never starts a run")


@rule
def windows_see_data(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    """rate() needs two samples in its window, so a window under two scrape intervals is always empty: a
    monitor on it never fires and a rollout gate on it never sees traffic (and so never passes)."""
    shortest_ms = 2 * (duration_ms(project.scrapeInterval) or 60_000)
    # (path, window, what it is as a template and its argument): spelled out only for a window too short
    windows: list[tuple[Path, str, str, object]] = [
        (("monitors", i, "window") if m.window else ("monitors", i), m.window or MONITOR_DEFAULTS[m.kind][0],
         "monitor {!r} window", m.name) for i, m in enumerate(spec.monitors)]
    if spec.rollout is not None and spec.serving.pattern in ("realtime", "streaming"):
        if spec.rollout.shadow is not None:
            windows.append((("rollout", "shadow", "duration"), spec.rollout.shadow.duration, "the shadow gate window",
                            None))
        windows += [(("rollout", "canary", i, "duration"), step.duration, "canary step {}'s gate window", i + 1)
                    for i, step in enumerate(spec.rollout.canary)]
    for path, window, what, arg in windows:
        ms = duration_ms(window)
        if ms is not None and ms < shortest_ms:
            hint = (f"use at least {format_duration(shortest_ms)} (two scrapes at scrapeInterval "
                    f"{project.scrapeInterval} in mlspec.yaml)")
            yield _warn("MLS243", path,
                        f"{what.format(arg)} {window} is shorter than two scrape intervals: it never sees data", hint)


def run_rules(spec: Spec, project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in RULES:
        out.extend(check(spec, project))
    return out
