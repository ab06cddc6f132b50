"""`mlspec verify --prometheus URL [--env ENV] [SPECS...]`: do the series the rendered rules and the
rollout gates query exist in a live Prometheus, with the labels and histogram buckets they expect?

Promtool proves a rule's logic on series the test feeds it; only the real Prometheus knows whether the
runtime exports them. For every model and environment this renders the project in memory (as `render`
does), reads every selector out of the rule expressions (any rendered rule file: a YAML document with
`groups[].rules[].expr`; series recorded by the same rules are skipped) and out of the gate's traffic
query, and asks Prometheus for each. A missing selector is then narrowed down: is the metric missing
altogether, which label value is wrong (and which values exist), or which histogram bucket is absent.
Latency thresholds are compared with the live buckets: a threshold at or above the highest finite
bucket can never fire. One line per problem; exit 0 (no problems), 1 (problems), 2 (usage, specs that
do not lint, Prometheus unreachable).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import promql_parser
import yaml

from compiler.live.prometheus import PrometheusError, Sample, check_url, query
from compiler.monitoring import serving_metrics
from compiler.monitoring.promql import quote
from compiler.planning.plan import Plan, monitor_in

Query = Callable[[str], list[Sample]]

CODES = {
    "VER001": "a metric the rules or gates query has no series at all",
    "VER002": "a metric exists, but no series carries the label value a rule selects",
    "VER003": "a histogram bucket a rule selects does not exist",
    "VER004": "a latency alert can never fire: its threshold is at or above the highest finite live bucket",
    "VER005": "a selector matches nothing although every label value exists separately",
}


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    model: str
    environment: str
    message: str

    def line(self) -> str:
        return f"{self.code} {self.model}/{self.environment}: {self.message}"


@dataclass(slots=True)
class Wanted:
    """One selector and who reads it."""

    selector: Any  # promql_parser.VectorSelector
    readers: set[str]


def _selectors(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, promql_parser.VectorSelector):
        out.append(node)
        return out
    for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            _selectors(child, out)
    for child in getattr(node, "args", None) or []:
        _selectors(child, out)
    return out


def _matchers(sel: Any) -> list[tuple[str, str, str]]:
    """(label, op, value) with op one of = != =~ !~."""
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}
    return [(m.name, ops.get(str(m.op), "="), m.value) for m in sel.matchers.matchers]


def rule_groups(files: dict[str, bytes]) -> Iterator[dict[str, Any]]:
    """Every rule of every rendered rule file (a document with groups of rules carrying `expr`)."""
    for rel, data in sorted(files.items()):
        if not rel.endswith((".yaml", ".yml")) or b"groups:" not in data:
            continue
        for doc in yaml.safe_load_all(data):
            groups = doc.get("groups") if isinstance(doc, dict) and "kind" not in doc else None
            if not isinstance(groups, list):
                continue
            for group in groups:
                for rule in (group or {}).get("rules") or []:
                    if isinstance(rule, dict) and isinstance(rule.get("expr"), str):
                        yield rule


def wanted(plan: Plan, environment: str, rules: Iterable[dict[str, Any]]) -> dict[str, Wanted]:
    """Selector text -> what it is and which alerts, recordings and gates read it."""
    mine = [r for r in rules if (r.get("labels") or {}).get("model") == plan.name
            and (r.get("labels") or {}).get("environment") == environment]
    recorded = {r["record"] for r in mine if "record" in r}
    found: dict[str, Wanted] = {}

    def add(expr: str, reader: str) -> None:
        for sel in _selectors(promql_parser.parse(expr), []):
            if sel.name in recorded or sel.name == "ALERTS" or not sel.name:
                continue
            found.setdefault(str(sel), Wanted(sel, set())).readers.add(reader)

    for rule in mine:
        add(rule["expr"], str(rule.get("alert") or rule.get("record")))
    rollout = plan.rollout
    if rollout is not None and rollout.environment == environment and plan.serving.pattern in ("realtime", "streaming"):
        namespace = plan.environment(environment).namespace
        add(serving_metrics.traffic_query(plan, namespace, "5m", 300), "rollout traffic gate")
    return found


def _values(ask: Query, metric: str, label: str) -> list[str]:
    found = ask(f"group by ({label}) ({{__name__={quote(metric)}}})")
    return sorted({s.labels.get(label, "") for s in found})


def _why(ask: Query, sel: Any) -> tuple[str, str]:
    """(code, message) for a selector that matches nothing."""
    metric = sel.name
    if not ask(f"group({{__name__={quote(metric)}}})"):
        return "VER001", f"no series named {metric} (queried by {sel})"
    for label, op, value in _matchers(sel):
        if label == "__name__":
            continue
        alone = ask(f"group({{__name__={quote(metric)}, {label}{op}{quote(value)}}})")
        if alone:
            continue
        seen = _values(ask, metric, label)
        shown = ", ".join(v or '""' for v in seen[:12]) or "none"
        if label == "le":
            return "VER003", (f"histogram {metric} has no bucket le{op}{quote(value)}; its buckets: {shown}")
        return "VER002", f"{metric} has no series with {label}{op}{quote(value)}; {label} values: {shown}"
    return "VER005", f"{sel} matches nothing, although each of its label values exists on some series"


def _latency_never_fires(plan: Plan, environment: str, ask: Query) -> Iterator[Problem]:
    stack = serving_metrics.stack_for(plan)
    if stack.latency is None:
        return
    env = plan.environment(environment)
    for m in plan.monitors:
        applied = monitor_in(m, env)
        if applied is None or applied.kind != "latency" or applied.threshold is None:
            continue
        sel = stack.latency_selector(stack.latency.bucket_metric, plan.name, env.namespace)
        bounds = []
        for s in ask(f"group by (le) ({sel})"):
            try:
                bounds.append(float(s.labels.get("le", "")) * stack.latency.unit_seconds)
            except ValueError:
                continue
        finite = [b for b in bounds if b != float("inf")]
        if finite and applied.threshold >= max(finite):
            yield Problem("VER004", plan.name, environment,
                          f"alert of monitor {m.name!r} can never fire: threshold {applied.threshold:g}s is at or "
                          f"above the highest finite bucket {max(finite):g}s of {stack.latency.bucket_metric}")


def check_plan(plan: Plan, environment: str, rules: list[dict[str, Any]], ask: Query) -> list[Problem]:
    problems = []
    for text, want in sorted(wanted(plan, environment, rules).items()):
        if ask(f"group({text})"):
            continue
        code, message = _why(ask, want.selector)
        problems.append(Problem(code, plan.name, environment,
                                f"{message} [read by {', '.join(sorted(want.readers))}]"))
    problems.extend(_latency_never_fires(plan, environment, ask))
    return problems


@dataclass(slots=True)
class Outcome:
    code: int
    lines: list[str]


def verify(paths: list[Path] | None, root: Path | None, prometheus: str, environment: str | None,
           ask: Query | None = None) -> Outcome:
    from compiler.pipeline import run

    result = run(paths or None, root=root, render=True)
    if not result.ok:
        return Outcome(2, [d.to_text() for d in result.diagnostics] + ["mlspec verify: the specs do not render"])
    rules = list(rule_groups(result.files()))
    if ask is None:
        def ask(expr: str) -> list[Sample]:
            return query(prometheus, expr)
    plans = [s.plan for s in result.specs if s.plan is not None]
    envs = {e.name for p in plans for e in p.serving.environments}
    if environment is not None and environment not in envs:
        return Outcome(2, [f"mlspec verify: no spec is served in environment {environment!r} "
                           f"(known: {', '.join(sorted(envs)) or 'none'})"])
    problems: list[Problem] = []
    try:
        for plan in plans:
            for env in plan.serving.environments:
                if environment is None or env.name == environment:
                    problems.extend(check_plan(plan, env.name, rules, ask))
    except PrometheusError as exc:
        return Outcome(2, [f"mlspec verify: {exc}"])
    lines = [p.line() for p in problems]
    checked = len(plans)
    lines.append(f"{len(problems)} problem(s) in {checked} model(s)" if problems else
                 f"ok: every queried series exists ({checked} model(s))")
    return Outcome(1 if problems else 0, lines)


@click.command("verify")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prometheus", required=True, envvar="MLSPEC_PROMETHEUS_URL",
              help="Prometheus base URL, e.g. http://prometheus:9090.")
@click.option("--env", "environment", default=None, help="Only this environment (default: every one).")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Spec repository root (default: found from the current directory).")
def verify_command(paths: tuple[Path, ...], prometheus: str, environment: str | None, root: Path | None) -> None:
    """Ask a live Prometheus whether every series the rendered rules and gates query exists (docs/metrics.md)."""
    try:
        check_url(prometheus)
    except PrometheusError as exc:
        click.echo(f"mlspec verify: {exc}", err=True)
        sys.exit(2)
    outcome = verify(list(paths) or None, root, prometheus, environment)
    for line in outcome.lines:
        click.echo(line)
    sys.exit(outcome.code)
