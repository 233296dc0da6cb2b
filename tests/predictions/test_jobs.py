"""The job wrappers RQ runs: predict_match and settle_match, through the real provider registry."""

import pytest

from matches.models import Match
from predictions.jobs import predict_match, settle_match
from predictions.models import Prediction
from predictions.services import PredictionRefused
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished():
    match = MatchFactory(finished=True, home_score=2, away_score=1)
    MatchAnalysisFactory(match=match)
    PredictionModelFactory(slug="always-2-1", provider="fixed_score", config={"home": 2, "away": 1})
    PredictionModelFactory(slug="always-1-1", provider="fixed_score", config={"home": 1, "away": 1})
    PredictionModelFactory(slug="broken", provider="dixon_coles", config={"no_such_key": 1})
    return match


def test_predict_match_returns_a_per_model_result_and_a_second_run_creates_nothing(finished):
    result = predict_match(finished.pk, allow_retroactive=True)
    assert result["created"] == 2 and result["failed"] == 1 and result["is_retroactive"] is True
    assert result["models"]["always-2-1"] == {"status": "created", "reason": "", "tip": (2, 1)}
    assert result["models"]["broken"]["status"] == "failed" and result["models"]["broken"]["reason"]
    again = predict_match(finished.pk, allow_retroactive=True)
    assert again["created"] == 0 and again["models"]["always-2-1"]["status"] == "skipped"
    assert Prediction.objects.filter(match=finished).count() == 2


def test_predict_match_refuses_a_finished_match_without_allow_retroactive(finished):
    with pytest.raises(PredictionRefused):
        predict_match(finished.pk)
    finished.refresh_from_db()
    assert finished.status == Match.Status.FINISHED


def test_settle_match_job_returns_what_it_did(finished):
    predict_match(finished.pk, allow_retroactive=True)
    result = settle_match(finished.pk)
    assert result["outcome"] == "scored" and result["predictions"] == 2
    assert result["quotas"] == {"home": 3, "draw": 3, "away": 6}
