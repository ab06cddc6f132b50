"""Gates as a CEL condition on the sub-DAG in front of register-model.

The KFP driver evaluates `triggerPolicy.condition` with CEL over the task's input parameters, which are
protobuf Values: every number is a double. CEL does not mix int and double in arithmetic, so every
literal is written as a double (`50.0`, never `50`).
"""

from __future__ import annotations

import math

from compiler.plan import GatePlan
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
        base = _baseline(gate.metric)
        higher = gate.direction != "lower"
        op = ">=" if higher else "<="
        if gate.tolerance == 0:
            bound = base
        elif gate.tolerance_relative:
            # The candidate may fall behind by `tolerance` of the baseline's value (for positive metrics).
            factor = 1 - gate.tolerance if higher else 1 + gate.tolerance
            bound = f"{base} * {cel_number(factor)}"
        else:
            sign = "-" if higher else "+"
            bound = f"{base} {sign} {cel_number(gate.tolerance)}"
        terms.append(f"{value} {op} {bound}")
    return terms


def condition(gates: tuple[GatePlan, ...], evaluation_step: str) -> str:
    return " && ".join(term for gate in gates for term in gate_terms(gate, evaluation_step))


def baseline_metrics(gates: tuple[GatePlan, ...]) -> list[str]:
    return list(dict.fromkeys(g.metric for g in gates if g.baseline))
