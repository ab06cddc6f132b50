"""Gates as a CEL condition on the sub-DAG in front of register-model.

The KFP driver evaluates `triggerPolicy.condition` with CEL over the task's input parameters, which are
protobuf Values: every number is a double. CEL does not mix int and double in arithmetic, so every
literal is written as a double (`50.0`, never `50`).
"""

from __future__ import annotations

import math

from compiler.planning.baseline_bound import BaselineBound, baseline_bound
from compiler.planning.plan import GatePlan
from targets.kubeflow import names


def cel_number(value: float) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} cannot be a gate threshold")
    return repr(number)  # always has '.' or an exponent: a CEL double literal


def _value(evaluation_step: str, metric: str) -> str:
    return f"inputs.parameter_values['{names.channel_output(evaluation_step, metric)}']"


def _baseline(metric: str) -> str:
    return f"inputs.parameter_values['{names.channel(names.baseline_parameter(metric))}']"


def gate_terms(gate: GatePlan, evaluation_step: str) -> list[str]:
    """One comparison per bound of the gate; all must hold."""
    value = _value(evaluation_step, gate.metric)
    terms: list[str] = []
    if gate.min is not None:
        terms.append(f"{value} >= {cel_number(gate.min)}")
    if gate.max is not None:
        terms.append(f"{value} <= {cel_number(gate.max)}")
    if gate.baseline:
        terms.append(f"{value} {baseline_term(baseline_bound(gate), _baseline(gate.metric))}")
    return terms


def baseline_term(bound: BaselineBound, base: str) -> str:
    """`<op> <bound>` in CEL, from the core's one definition of the bound (compiler/planning/baseline_bound.py), so the
    pipeline blocks exactly the candidates `mlspec gate` fails. CEL has no abs() in the standard
    library KFP's driver uses, so a sign-dependent factor is a conditional on the baseline's sign."""

    def scaled(factor: float) -> str:
        return base if factor == 1.0 else f"{base} * {cel_number(factor)}"

    if bound.sign_dependent:
        expr = f"({base} >= 0.0 ? {scaled(bound.factor_nonnegative)} : {scaled(bound.factor_negative)})"
    else:
        expr = scaled(bound.factor_nonnegative)
    if bound.offset:
        expr += f" - {cel_number(-bound.offset)}" if bound.offset < 0 else f" + {cel_number(bound.offset)}"
    return f"{bound.op} {expr}"


def condition(gates: tuple[GatePlan, ...], evaluation_step: str) -> str:
    return " && ".join(term for gate in gates for term in gate_terms(gate, evaluation_step))


def baseline_metrics(gates: tuple[GatePlan, ...]) -> list[str]:
    return list(dict.fromkeys(g.metric for g in gates if g.baseline))
