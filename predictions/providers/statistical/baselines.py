"""Baselines every real model has to beat."""

from collections import Counter
from collections.abc import Sequence

from predictions.providers.statistical.history import Result


def most_frequent_score(results: Sequence[Result], fallback: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """The commonest final score so far; ties go to the one seen most recently.

    With no history there is nothing to count, so ``fallback`` (football's
    commonest score, 1-1, by default) keeps the baseline always able to tip.
    """
    if not results:
        return fallback
    counts = Counter((r.home_goals, r.away_goals) for r in results)
    last_seen = {(r.home_goals, r.away_goals): i for i, r in enumerate(results)}
    return max(counts, key=lambda score: (counts[score], last_seen[score]))
