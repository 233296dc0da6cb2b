"""Database-level guarantees, proven against PostgreSQL."""

import pytest
from django.db import IntegrityError, connection

from tests.factories import MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


def test_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"


def test_one_prediction_per_match_and_model():
    match, model = MatchFactory(), PredictionModelFactory()
    PredictionFactory(match=match, model=model)
    with pytest.raises(IntegrityError, match="uniq_prediction_match_model"):
        PredictionFactory(match=match, model=model)


@pytest.mark.parametrize(("home", "away"), [(21, 0), (0, 21), (99, 99)])
def test_predicted_goals_must_be_within_0_and_20(home, away):
    with pytest.raises(IntegrityError, match="prediction_goals_0_20"):
        PredictionFactory(predicted_home=home, predicted_away=away)


def test_20_goals_is_allowed():
    assert PredictionFactory(predicted_home=20, predicted_away=0).pk
