"""What every predictor receives and returns.

A predictor sees only the match's identity and its pre-kickoff analysis
(``MatchAnalysis.data``); never the score, the status or anything dated at or
after kickoff.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from predictions.models import MAX_GOALS

# Stored when a predictor names no version (ad-hoc predictors in tests and scripts).
UNVERSIONED = "unversioned"


class PredictionFailed(Exception):
    """A predictor could not produce a valid tip; the message is the reason."""

    # Whether the failure should switch the model off at once instead of counting towards the breaker.
    trips_breaker = False


class AccountProblem(PredictionFailed):
    """The provider account cannot pay for calls (no credits, quota used up): no retry can fix it.

    It trips the model's circuit breaker at once; the fix is the provider's billing page.
    """

    trips_breaker = True


class FailureReason(str):
    """A failure's reason as text, carrying whether it trips the breaker at once (health reads it)."""

    trips_breaker: bool = False


def failure_reason(exc: PredictionFailed) -> FailureReason:
    """The reason string of a failed prediction, as stored in ``last_error`` and the report."""
    reason = FailureReason(str(exc) or exc.__class__.__name__)
    reason.trips_breaker = exc.trips_breaker
    return reason


@dataclass(frozen=True)
class MatchContext:
    match_id: int
    kickoff_time: datetime
    competition: str
    home_team_id: int
    home_team: str
    away_team_id: int
    away_team: str
    analysis: dict
    # Competition.result_rule: which score counts (the prompt states it; settlement applies it).
    result_rule: str = "after_90"


@dataclass(frozen=True)
class Tip:
    home: int
    away: int
    detail: dict = field(default_factory=dict)
    # Stored as Prediction.prompt_version: the prompt template (LLMs) or the model's own version.
    version: str = ""

    def __post_init__(self) -> None:
        for goals in (self.home, self.away):
            if not isinstance(goals, int) or isinstance(goals, bool) or not 0 <= goals <= MAX_GOALS:
                raise PredictionFailed(f"goals must be integers in 0..{MAX_GOALS}, got {self.home}-{self.away}")


class Predictor(Protocol):
    def predict(self, context: MatchContext) -> Tip: ...


def predict_versioned(predictor: Predictor, context: MatchContext) -> Tip:
    """``predictor.predict(context)`` whose tip always names a version: its own, else the predictor's
    class attribute ``version`` (the statistical adapters), else UNVERSIONED."""
    tip = predictor.predict(context)
    if tip.version:
        return tip
    return replace(tip, version=getattr(predictor, "version", "") or UNVERSIONED)
