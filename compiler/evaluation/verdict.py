"""`mlspec gate`: judge a candidate's metrics by the spec's gates, against the production baseline.

The library half (`evaluate`, `run_gate`) is pure; `gate_command` only parses arguments, prints and exits.
Exit codes: 0 every gate passes, 1 any gate fails, 2 usage or input errors (unreadable metrics, a spec
with errors). A first deployment has no baseline: baseline rules are reported as skipped and pass, and the
verdict says so, so nobody mistakes "nothing to compare with" for "as good as production".
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from compiler.diagnostics import Diagnostic, format_diagnostics, has_errors
from compiler.planning.baseline_bound import baseline_bound
from compiler.planning.plan import GatePlan, Plan

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    rule: str  # human-readable rule, e.g. ">= 0.92" or ">= baseline - 1%"
    candidate: float | None
    baseline: float | None
    threshold: float | None  # the bound the candidate was compared with
    verdict: str  # pass | fail | skipped
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "rule": self.rule, "candidate": self.candidate, "baseline": self.baseline,
                "threshold": self.threshold, "verdict": self.verdict, "reason": self.reason}


@dataclass(slots=True)
class GateRun:
    checks: list[Check] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    verdict: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        if self.verdict is None:
            return 2
        return 0 if self.verdict["verdict"] == PASS else 1


def _fmt(value: float) -> str:
    return f"{value:g}"


def evaluate(gates: Sequence[GatePlan], candidate: Mapping[str, float],
             baseline: Mapping[str, float] | None) -> list[Check]:
    """One check per rule of each gate: min, max, and the baseline comparison."""
    checks: list[Check] = []
    for gate in gates:
        value = candidate.get(gate.metric)
        base = baseline.get(gate.metric) if baseline is not None else None
        rules: list[tuple[str, float | None, str]] = []  # (rule, bound, op)
        if gate.min is not None:
            rules.append((f">= {_fmt(gate.min)}", gate.min, ">="))
        if gate.max is not None:
            rules.append((f"<= {_fmt(gate.max)}", gate.max, "<="))
        for rule, bound, op in rules:
            if value is None:
                checks.append(Check(gate.metric, rule, None, base, bound, FAIL, "missing from the candidate metrics"))
                continue
            ok = value >= bound if op == ">=" else value <= bound  # type: ignore[operator]
            checks.append(Check(gate.metric, rule, value, base, bound, PASS if ok else FAIL,
                                "within the bound" if ok else "outside the bound"))
        if not gate.baseline:
            continue
        bound_of = baseline_bound(gate)
        rule = bound_of.rule
        if value is None:
            checks.append(Check(gate.metric, rule, None, base, None, FAIL, "missing from the candidate metrics"))
        elif baseline is None:
            checks.append(Check(gate.metric, rule, value, None, None, SKIPPED,
                                "no baseline: first deployment, nothing to compare with"))
        elif base is None:
            checks.append(Check(gate.metric, rule, value, None, None, SKIPPED,
                                "no baseline: the production metrics do not have this metric"))
        else:
            bound, ok = bound_of.of(base), bound_of.passes(value, base)
            checks.append(Check(gate.metric, rule, value, base, bound, PASS if ok else FAIL,
                                "no worse than production within the tolerance" if ok
                                else "worse than production beyond the tolerance"))
    return checks


def load_metrics(path: Path, what: str) -> tuple[dict[str, float] | None, str, Diagnostic | None]:
    """A flat JSON object of metric -> number (or {"metrics": {...}}); returns (metrics, sha256, problem)."""
    file = path.as_posix()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, "", Diagnostic("MLS001", f"cannot read {what} metrics: {exc.strerror}", file=file)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, digest, Diagnostic("MLS002", f"{what} metrics are not valid JSON: {exc}", file=file)
    if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
        data = data["metrics"]
    if not isinstance(data, dict):
        return None, digest, Diagnostic("MLS002", f"{what} metrics must be a JSON object of metric: number",
                                        file=file)
    metrics: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, digest, Diagnostic("MLS002", f"{what} metric {key!r} is not a finite number: {value!r}",
                                            file=file)
        metrics[str(key)] = float(value)
    return metrics, digest, None


def _load_plan(spec: Path) -> tuple[Plan | None, list[Diagnostic]]:
    """Validate and plan the spec without running the targets' checks: those are lint's job (the
    first CI stage), and the gate must not depend on every installed plugin loading."""
    from compiler.pipeline import run
    from compiler.render.plugins import Registry

    result = run([spec], render=False, registry=Registry(), jobs=1)
    # With no targets loaded, the project file's `targets:` entries read as "not installed".
    diags = [d for d in result.diagnostics if d.code != "MLS401"]
    plans = [s.plan for s in result.specs if s.plan is not None]
    if has_errors(diags) or len(plans) != 1:
        if not has_errors(diags):
            diags.append(Diagnostic("MLS001", "expected exactly one spec file", file=spec.as_posix()))
        return None, diags
    return plans[0], diags


def run_gate(spec: Path, candidate: Path, baseline: Path | None) -> GateRun:
    """Load the spec and the metrics, apply the gates and build the audit verdict."""
    out = GateRun()
    plan, diags = _load_plan(spec)
    out.diagnostics.extend(diags)
    cand, cand_sha, problem = load_metrics(candidate, "candidate")
    if problem:
        out.diagnostics.append(problem)
    base: dict[str, float] | None = None
    base_sha: str | None = None
    if baseline is not None:
        base, base_sha, problem = load_metrics(baseline, "baseline")
        if problem:
            out.diagnostics.append(problem)
    if plan is None or cand is None or (baseline is not None and base is None):
        return out
    out.checks = evaluate(plan.gates, cand, base)
    failed = [c for c in out.checks if c.verdict == FAIL]
    out.verdict = {
        "apiVersion": "mlspec/v1",
        "kind": "GateVerdict",
        "model": plan.name,
        "model_version": plan.model.version,
        "data_hash": plan.data.hash,
        "code_commit": plan.model.code_commit,
        "risk": plan.risk,
        "spec_path": plan.provenance.spec_path,
        "spec_digest": plan.provenance.spec_digest,
        "plan_digest": plan.digest,
        "compiler_version": plan.provenance.compiler_version,
        "candidate_sha256": cand_sha,
        "baseline_sha256": base_sha,
        "first_deployment": baseline is None,
        "candidate": cand,
        "baseline": base,
        "gates": [c.to_json() for c in out.checks],
        "verdict": FAIL if failed else PASS,
        "summary": _summary(out.checks, baseline is None),
    }
    return out


def _summary(checks: Sequence[Check], first: bool) -> str:
    counts = {v: sum(1 for c in checks if c.verdict == v) for v in (PASS, FAIL, SKIPPED)}
    text = f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIPPED]} skipped"
    if first and counts[SKIPPED]:
        text += " (no baseline: first deployment, baseline rules were not applied)"
    return text


def verdict_json(verdict: Mapping[str, Any]) -> str:
    return json.dumps(verdict, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def table(checks: Sequence[Check]) -> str:
    def num(value: float | None) -> str:
        return "-" if value is None else _fmt(value)

    rows = [("metric", "candidate", "baseline", "rule", "verdict")]
    for c in checks:
        verdict = c.verdict.upper() + (f": {c.reason}" if c.verdict != PASS else "")
        rows.append((c.metric, num(c.candidate), num(c.baseline), c.rule, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows)


@click.command("gate")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--candidate", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSON object of the candidate's metrics.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="JSON object of the production model's metrics; omit on a first deployment.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the JSON verdict here (the audit trail).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def gate_command(spec: Path, candidate: Path, baseline: Path | None, out: Path | None, fmt: str) -> None:
    """Apply SPEC's gates to the candidate's metrics; exit 1 when any gate fails."""
    result = run_gate(spec, candidate, baseline)
    if result.verdict is None:
        # Warnings of a valid spec are lint's business; here they would bury the verdict.
        click.echo(format_diagnostics(result.diagnostics, "text"), err=True)
        sys.exit(2)
    text = verdict_json(result.verdict)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    if fmt == "json":
        click.echo(text, nl=False)
    else:
        click.echo(table(result.checks))
        click.echo(f"{result.verdict['model']} {result.verdict['model_version']}: "
                   f"{result.verdict['verdict'].upper()} ({result.verdict['summary']})")
    sys.exit(result.exit_code)
