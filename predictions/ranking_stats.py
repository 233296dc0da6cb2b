"""The statistics behind the leaderboard, as pure functions of aggregates (no database).

Points per match are small integers, so a model's predictions reduce to a few
aggregates: n, sum and sum of squares for the mean's t-interval, and a
histogram of points per kind (pre-kickoff, retroactive) for the rank test.
That is what lets the selector stay one aggregated query at any table size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

CONFIDENCE = 0.95
FLAG_ALPHA = 0.01


def mean_ci(*, n: int, total: float, sum_squares: float, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Student-t interval for the mean points per match; None below two observations (no spread to estimate)."""
    if n < 2:
        return None
    # Imported here: every process loads the admin, hence this module, at setup, and scipy costs most of a
    # CPU-second; a worker should pay it once, when it preloads the job modules (tests/test_worker.py).
    from scipy import stats

    mean = total / n
    variance = max(0.0, (sum_squares - n * mean * mean) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return mean - half, mean + half


def mann_whitney_greater(retro: Mapping[int, int], pre: Mapping[int, int]) -> float:
    """One-sided p-value that retroactive points are stochastically greater than pre-kickoff ones.

    Mann-Whitney U from the two histograms ({points: count}), with the normal
    approximation, tie correction and continuity correction, i.e. what
    ``scipy.stats.mannwhitneyu(retro, pre, alternative="greater", method="asymptotic")``
    returns on the expanded samples (the tests check that), without expanding
    millions of values.
    """
    n1, n2 = sum(retro.values()), sum(pre.values())
    if not n1 or not n2:
        return 1.0
    values = sorted(set(retro) | set(pre))
    u1, below, tie_term = 0.0, 0, 0.0
    for value in values:
        r, p = retro.get(value, 0), pre.get(value, 0)
        u1 += r * (below + p / 2)
        below += p
        t = r + p
        tie_term += t**3 - t
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value tied: no evidence either way
    z = (u1 - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    from scipy import stats  # see mean_ci

    return float(stats.norm.sf(z))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over the models tested), in the input's order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
