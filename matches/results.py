"""The result that counts: one pure rule from a match's period scores to the score settlement uses.

Sources report a match period by period: the score after regular time (90
minutes plus stoppage), the cumulative score after extra time (shoot-out
excluded) and the shoot-out alone. A competition's ``ResultRule`` says which
of them a tip is scored against; every place that stores or settles a result
calls ``counting_score`` so the rule lives in exactly one function.
"""

from dataclasses import dataclass
from typing import Any

Score = tuple[int, int]

AFTER_90 = "after_90"
AFTER_EXTRA_TIME = "after_extra_time"
WITH_SHOOTOUT = "with_shootout"
RULES = (AFTER_90, AFTER_EXTRA_TIME, WITH_SHOOTOUT)


@dataclass(frozen=True)
class PeriodScores:
    """What the source reported; None where it has nothing or the period was not played."""

    after_90: Score | None = None
    after_extra_time: Score | None = None  # cumulative, shoot-out excluded
    shootout: Score | None = None  # the shoot-out alone


def counting_score(rule: str, periods: PeriodScores) -> Score | None:
    """The score that counts under ``rule``, or None when the source lacks the period it needs.

    - after_90: the score after regular time, whatever happened later.
    - after_extra_time: the score after extra time; a match decided in 90
      minutes had no extra time, so its 90-minute score counts.
    - with_shootout: the shoot-out goals are ADDED to the score after extra
      time (a 1-1 won 4-3 on penalties counts as 5-4), so the shoot-out
      winner also wins the tendency; without a shoot-out it is the score
      after extra time (or after 90).
    """
    if rule not in RULES:
        raise ValueError(f"unknown result rule {rule!r}; choose one of {', '.join(RULES)}")
    if rule == AFTER_90:
        return periods.after_90
    played = periods.after_extra_time if periods.after_extra_time is not None else periods.after_90
    if rule == AFTER_EXTRA_TIME or played is None or periods.shootout is None:
        return played
    return played[0] + periods.shootout[0], played[1] + periods.shootout[1]


def _pair(home: Any, away: Any) -> Score | None:
    return (home, away) if home is not None and away is not None else None


def periods_of(match: Any) -> PeriodScores:
    """The period scores stored on a Match (duck-typed: anything with the ``score_*`` fields)."""
    return PeriodScores(
        after_90=_pair(match.score_90_home, match.score_90_away),
        after_extra_time=_pair(match.score_et_home, match.score_et_away),
        shootout=_pair(match.score_pen_home, match.score_pen_away),
    )


def counted_result(match: Any, rule: str) -> Score | None:
    """The result of a stored match under ``rule``: from its period scores when it has any.

    A match stored before period scores existed (or entered by hand) has only
    ``home_score``/``away_score``; that is then the result, as it always was.
    """
    periods = periods_of(match)
    if periods == PeriodScores():
        return _pair(match.home_score, match.away_score)
    return counting_score(rule, periods)
