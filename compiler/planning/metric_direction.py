"""What the compiler knows about metric names: which kind of gate a metric is and which way is better."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Protocol

Direction = Literal["higher", "lower"]
GateKind = Literal["quality", "latency", "fairness", "cost"]

_HIGHER = {
    "accuracy", "auc", "roc_auc", "pr_auc", "average_precision", "precision", "recall", "f1", "f1_score",
    "r2", "map", "ndcg", "mrr", "bleu", "rouge", "rouge_l", "exact_match", "top_k_accuracy", "grounding",
    "groundedness", "faithfulness", "disparate_impact", "throughput", "coverage", "hit_rate",
}
_LOWER = {
    "rmse", "mse", "mae", "mape", "log_loss", "logloss", "cross_entropy", "error_rate", "wer", "cer",
    "perplexity", "brier", "brier_score", "hallucination_rate", "demographic_parity_difference",
    "equal_opportunity_difference", "equalized_odds_difference", "fairness_gap",
}
_FAIRNESS = {"disparate_impact", "demographic_parity_difference", "equal_opportunity_difference",
             "equalized_odds_difference", "fairness_gap"}


class GateLike(Protocol):
    @property
    def metric(self) -> str: ...
    @property
    def kind(self) -> GateKind | None: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...
    @property
    def direction(self) -> Direction | None: ...


def gate_kind(metric: str, explicit: GateKind | None = None) -> GateKind:
    if explicit is not None:
        return explicit
    return _kind_of(metric)


# The plan and the rules ask about each gate's metric; specs name a few dozen metrics between them.
@lru_cache(maxsize=1024)
def _kind_of(metric: str) -> GateKind:
    name = metric.lower()
    if name.startswith("latency") or name.endswith(("_ms", "_seconds", "_latency")) or "latency" in name:
        return "latency"
    if name.startswith("cost") or "cost" in name:
        return "cost"
    if name in _FAIRNESS or "parity" in name or "fairness" in name:
        return "fairness"
    return "quality"


@lru_cache(maxsize=1024)
def known_direction(metric: str) -> Direction | None:
    name = metric.lower()
    if name in _HIGHER:
        return "higher"
    if name in _LOWER:
        return "lower"
    if gate_kind(name) in ("latency", "cost"):
        return "lower"
    return None


def gate_direction(gate: GateLike) -> Direction | None:
    """Which way is better: explicit, else from the metric's name, else from min/max when only one is set."""
    if gate.direction is not None:
        return gate.direction
    known = known_direction(gate.metric)
    if known is not None:
        return known
    if gate.min is not None and gate.max is None:
        return "higher"
    if gate.max is not None and gate.min is None:
        return "lower"
    return None
