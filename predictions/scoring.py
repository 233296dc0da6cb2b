"""Kicktipp quota scoring, as pure functions.

Quota per tendency: 6 / (10 * T / N) - 6 / 10 + 2, clamped to [2, 6] and
rounded half up. Exact fractions keep 2.5 from becoming 2.4999999.
"""

from collections.abc import Iterable
from enum import StrEnum
from fractions import Fraction
from math import floor
from typing import NamedTuple

QUOTA_MIN = 2
QUOTA_MAX = 6
GOAL_DIFF_BONUS = 1
EXACT_SCORE_BONUS = 3


class Tendency(StrEnum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"


class Quotas(NamedTuple):
    home: int
    draw: int
    away: int

    def for_tendency(self, tendency: Tendency) -> int:
        return getattr(self, tendency.value)


class ScoreBreakdown(NamedTuple):
    tendency_points: int
    goal_diff_bonus: int
    exact_score_bonus: int
    total: int


NO_POINTS = ScoreBreakdown(0, 0, 0, 0)


def tendency_of(home: int, away: int) -> Tendency:
    if home > away:
        return Tendency.HOME
    if home < away:
        return Tendency.AWAY
    return Tendency.DRAW


def round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def quota_for(share: int, total: int) -> int:
    """The quota of a tendency chosen by ``share`` of ``total`` predictions."""
    if total == 0:
        return QUOTA_MIN
    if share == 0:
        return QUOTA_MAX
    raw = Fraction(QUOTA_MAX) / (10 * Fraction(share, total)) - Fraction(QUOTA_MAX, 10) + QUOTA_MIN
    return round_half_up(min(max(raw, Fraction(QUOTA_MIN)), Fraction(QUOTA_MAX)))


def calculate_quotas(scores: Iterable[tuple[int, int]]) -> Quotas:
    counts = dict.fromkeys(Tendency, 0)
    for home, away in scores:
        counts[tendency_of(home, away)] += 1
    total = sum(counts.values())
    return Quotas(*(quota_for(counts[t], total) for t in (Tendency.HOME, Tendency.DRAW, Tendency.AWAY)))


def score_prediction(
    predicted_home: int, predicted_away: int, actual_home: int, actual_away: int, quotas: Quotas
) -> ScoreBreakdown:
    actual = tendency_of(actual_home, actual_away)
    if tendency_of(predicted_home, predicted_away) != actual:
        return NO_POINTS
    tendency_points = quotas.for_tendency(actual)
    goal_diff = GOAL_DIFF_BONUS if predicted_home - predicted_away == actual_home - actual_away else 0
    exact = EXACT_SCORE_BONUS if (predicted_home, predicted_away) == (actual_home, actual_away) else 0
    return ScoreBreakdown(tendency_points, goal_diff, exact, tendency_points + goal_diff + exact)
