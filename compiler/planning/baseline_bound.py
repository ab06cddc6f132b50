"""The bound a baseline gate sets: defined once, evaluated by `mlspec gate` and rendered by the targets.

A baseline rule lets the candidate fall behind production by a tolerance. An absolute tolerance shifts
the baseline (`baseline - 0.005`); a relative one is a share of the baseline's magnitude, so the bound
moves *away from* the better direction whatever the baseline's sign: r2 = -0.5 with 10 % gives -0.55
for a higher-is-better metric, not -0.45 (which `baseline * (1 - tolerance)` would demand and so block a
candidate that is within the tolerance).

The bound is an affine function of the baseline whose factor depends on the baseline's sign:
`bound = baseline * (factor_nonnegative if baseline >= 0 else factor_negative) + offset`. `mlspec gate`
computes it with `BaselineBound.of`; the Kubeflow target renders the same numbers into its CEL trigger
condition, so both round the same way (one multiplication, one addition in IEEE doubles).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.planning.plan import GatePlan


@dataclass(frozen=True, slots=True)
class BaselineBound:
    op: str  # ">=" (higher is better) or "<=" (lower is better): candidate <op> bound passes
    factor_nonnegative: float  # multiplies a baseline >= 0
    factor_negative: float  # multiplies a baseline < 0
    offset: float  # added after the multiplication
    rule: str  # how to read it, e.g. ">= baseline - 1%"

    @property
    def sign_dependent(self) -> bool:
        return self.factor_nonnegative != self.factor_negative

    def of(self, baseline: float) -> float:
        factor = self.factor_nonnegative if baseline >= 0 else self.factor_negative
        scaled = baseline * factor if factor != 1.0 else baseline
        return scaled + self.offset if self.offset else scaled

    def passes(self, candidate: float, baseline: float) -> bool:
        bound = self.of(baseline)
        return candidate >= bound if self.op == ">=" else candidate <= bound


def baseline_bound(gate: GatePlan) -> BaselineBound:
    """The bound of `gate`'s baseline rule (meaningful when `gate.baseline`)."""
    higher = gate.direction != "lower"
    op = ">=" if higher else "<="
    tol = gate.tolerance
    if gate.tolerance_relative:
        amount = f"{tol * 100:g}%"
        # |b| * tol away from the better side: b - |b|*tol == b*(1-tol) for b >= 0 and b*(1+tol) for b < 0.
        worse, better = 1.0 - tol, 1.0 + tol
        nonneg, neg = (worse, better) if higher else (better, worse)
        offset = 0.0
    else:
        amount = f"{tol:g}"
        nonneg = neg = 1.0
        offset = -tol if higher else tol
    if tol == 0:
        nonneg, neg, offset = 1.0, 1.0, 0.0
    rule = f">= baseline - {amount}" if higher else f"<= baseline + {amount}"
    return BaselineBound(op=op, factor_nonnegative=nonneg, factor_negative=neg, offset=offset, rule=rule)
