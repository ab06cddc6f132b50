"""Multi-window multi-burn-rate tiers (Google SRE workbook, ch. 5), derived from the SLO's period.

A tier alerts when both its long and its short window burn the error budget faster than `factor`
times the sustainable rate. The factor is the share of the whole budget the tier tolerates losing
within its long window: factor = budget_share * period / long_window. For a 30-day period that gives
the workbook's 14.4, 6, 3 and 1; other periods get their own factors. A tier whose long window is not
shorter than the period, or whose threshold (factor * (1 - objective)) reaches 100% errors so it could
never fire, is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from compiler.language.units import duration_seconds


@dataclass(frozen=True, slots=True)
class TierSpec:
    long: str
    short: str
    budget_share: Fraction  # share of the period's error budget spent within `long`
    page: bool


# The workbook's recommendation: page on 2% of the budget in 1h or 5% in 6h, ticket on 10% in 1d or 3d.
TIERS: tuple[TierSpec, ...] = (
    TierSpec("1h", "5m", Fraction(2, 100), True),
    TierSpec("6h", "30m", Fraction(5, 100), True),
    TierSpec("1d", "2h", Fraction(10, 100), False),
    TierSpec("3d", "6h", Fraction(10, 100), False),
)


@dataclass(frozen=True, slots=True)
class Tier:
    long: str
    short: str
    long_seconds: int
    factor: float
    threshold: float  # error ratio both windows must exceed
    page: bool


def factor(budget_share: Fraction, period_seconds: int, window_seconds: int) -> Fraction:
    return budget_share * period_seconds / window_seconds


def objective_fraction(objective: float) -> Fraction:
    # 99.9 / 100 is 0.9990000000000001 in binary; the user meant the decimal.
    return Fraction(repr(round(objective, 12)))


def tiers(objective: float, period_seconds: int) -> list[Tier]:
    """The tiers that can fire, longest window last; a new list each call (callers may keep or change it)."""
    return list(_tiers(objective, period_seconds))


@lru_cache(maxsize=1024)
def _tiers(objective: float, period_seconds: int) -> tuple[Tier, ...]:
    """Exact Fraction arithmetic, once per (objective, period): each SLO monitor asks three times (check,
    dropped, rules) and a thousand specs share a few dozen of them. Tier is frozen; the tuple is too."""
    budget = 1 - objective_fraction(objective)
    out = []
    for spec in TIERS:
        long_seconds = duration_seconds(spec.long)
        if long_seconds >= period_seconds:
            continue
        f = factor(spec.budget_share, period_seconds, long_seconds)
        threshold = f * budget
        if threshold >= 1:
            continue
        out.append(Tier(spec.long, spec.short, long_seconds, float(f), float(threshold), spec.page))
    return tuple(out)


def windows(tiers_: list[Tier]) -> list[str]:
    """Every window the tiers read, shortest first."""
    found = {w for t in tiers_ for w in (t.long, t.short)}
    return sorted(found, key=duration_seconds)


def dropped(objective: float, period_seconds: int) -> list[str]:
    kept = {(t.long, t.short) for t in tiers(objective, period_seconds)}
    return [f"{s.long}/{s.short}" for s in TIERS if (s.long, s.short) not in kept]


