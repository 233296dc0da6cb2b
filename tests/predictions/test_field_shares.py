"""The field's past tips reach the statistical models' quota estimate, and only from before kickoff."""

from datetime import timedelta

import pytest

from matches.models import Match
from predictions.models import Prediction
from predictions.selectors import field_tendency_counts
from predictions.services.generation import build_context
from tests.factories import CompetitionFactory, MatchAnalysisFactory, MatchFactory, PredictionFactory, utc

pytestmark = pytest.mark.django_db

KICKOFF = utc(2025, 3, 1, 15, 0)


def _settled(competition, kickoff, *tips):
    match = MatchFactory(competition=competition, kickoff_time=kickoff, status=Match.Status.FINISHED,
                         status_code="FT", home_score=1, away_score=0)
    for home, away in tips:
        PredictionFactory(match=match, predicted_home=home, predicted_away=away, status=Prediction.Status.SCORED)
    return match


def test_field_counts_are_of_the_competitions_matches_settled_before_kickoff():
    league = CompetitionFactory()
    _settled(league, KICKOFF - timedelta(days=7), (2, 1), (1, 1), (0, 2), (3, 0))
    _settled(league, KICKOFF - timedelta(hours=1), (0, 1), (0, 1))  # still being played at kickoff
    _settled(CompetitionFactory(), KICKOFF - timedelta(days=7), (0, 1))  # another competition
    target = MatchFactory(competition=league, kickoff_time=KICKOFF)
    assert field_tendency_counts(target, settled_before=KICKOFF - timedelta(hours=2, minutes=30)) == [2, 1, 1]
    context = build_context(target, MatchAnalysisFactory(match=target))
    assert context.analysis["_field_shares"] == [2, 1, 1]
    assert "_field_shares" not in target.analysis.data  # the stored analysis is left as built
