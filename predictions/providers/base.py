"""What every predictor receives and returns.

A predictor sees only the match's identity and its pre-kickoff analysis
(``MatchAnalysis.data``); never the score, the status or anything dated at or
after kickoff.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from predictions.models import MAX_GOALS


class PredictionFailed(Exception):
    """A predictor could not produce a valid tip; the message is the reason."""


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


@dataclass(frozen=True)
class Tip:
    home: int
    away: int
    detail: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for goals in (self.home, self.away):
            if not isinstance(goals, int) or isinstance(goals, bool) or not 0 <= goals <= MAX_GOALS:
                raise PredictionFailed(f"goals must be integers in 0..{MAX_GOALS}, got {self.home}-{self.away}")


class Predictor(Protocol):
    def predict(self, context: MatchContext) -> Tip: ...
