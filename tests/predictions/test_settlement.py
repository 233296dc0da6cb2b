"""settle_match: idempotent, re-scores the whole set, voids cancelled matches, safe under concurrency."""


import pytest
from django.db import connection

from matches.models import Match
from predictions.models import Prediction
from predictions.services import SettlementRefused, settle_match
from tests.concurrency import run_at_once
from tests.factories import MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


def _predict(match, *tips):
    return [PredictionFactory(match=match, predicted_home=h, predicted_away=a) for h, a in tips]


def test_settlement_stores_quotas_and_scores_every_prediction():
    match = MatchFactory(finished=True, home_score=0, away_score=1)
    _predict(match, *([(2, 1)] * 6 + [(1, 1)] * 3 + [(0, 1)]))
    result = settle_match(match.pk)
    match.refresh_from_db()
    assert (match.quota_home, match.quota_draw, match.quota_away) == (2, 3, 6)
    assert result.outcome == "scored" and result.changed == 10
    points = sorted(Prediction.objects.filter(match=match).values_list("total_points", flat=True))
    assert points == [0] * 9 + [10]
    assert set(Prediction.objects.values_list("status", flat=True)) == {"scored"}


def test_second_settlement_changes_nothing():
    match = MatchFactory(finished=True, home_score=2, away_score=1)
    _predict(match, (2, 1), (1, 1), (0, 3))
    settle_match(match.pk)
    before = list(Prediction.objects.order_by("pk").values_list("total_points", "scored_at"))
    again = settle_match(match.pk)
    assert again.changed == 0
    assert list(Prediction.objects.order_by("pk").values_list("total_points", "scored_at")) == before


def test_added_predictions_rescore_the_whole_set_under_new_quotas():
    match = MatchFactory(finished=True, home_score=1, away_score=0)
    first = _predict(match, (1, 0), (0, 0))
    settle_match(match.pk)
    first[0].refresh_from_db()
    assert first[0].tendency_points == 3  # 1 of 2 home tips: raw 2.6 -> 3
    _predict(match, (2, 0), (3, 0), (1, 0))
    settle_match(match.pk)
    match.refresh_from_db()
    assert match.quota_home == 2
    assert set(Prediction.objects.filter(predicted_home__gt=0).values_list("tendency_points", flat=True)) == {2}


def test_corrected_final_score_rescores():
    match = MatchFactory(finished=True, home_score=1, away_score=0)
    (tip,) = _predict(match, (1, 1))
    settle_match(match.pk)
    tip.refresh_from_db()
    assert tip.total_points == 0
    Match.objects.filter(pk=match.pk).update(home_score=1, away_score=1)
    settle_match(match.pk)
    tip.refresh_from_db()
    assert tip.total_points == 2 + 1 + 3


def test_cancelled_match_voids_predictions_with_zero_points():
    match = MatchFactory(finished=True, home_score=1, away_score=0)
    (tip,) = _predict(match, (1, 0))
    settle_match(match.pk)
    Match.objects.filter(pk=match.pk).update(status=Match.Status.CANCELLED)
    result = settle_match(match.pk)
    tip.refresh_from_db()
    assert result.outcome == "voided"
    assert (tip.status, tip.total_points, tip.tendency_points) == ("void", 0, 0)
    match.refresh_from_db()
    assert (match.quota_home, match.quota_draw, match.quota_away) == (None, None, None)  # the old 6/6/... gone
    assert match.settled_at is None  # rescheduled and played later, it is settled afresh
    updated_at = match.updated_at
    assert settle_match(match.pk).changed == 0
    match.refresh_from_db()
    assert match.updated_at == updated_at


def test_no_predictions_is_a_no_op_that_says_so():
    match = MatchFactory(finished=True)
    result = settle_match(match.pk)
    match.refresh_from_db()
    assert result.outcome == "no_predictions" and "no predictions" in result.detail
    assert match.quota_home is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"status": "scheduled"}, "not finished"), ({"status": "live"}, "not finished"),
     ({"status": "finished", "home_score": None, "away_score": None}, "no final score")],
)
def test_unfinished_or_scoreless_match_is_refused(fields, reason):
    match = MatchFactory(**fields)
    (tip,) = _predict(match, (1, 0))
    with pytest.raises(SettlementRefused, match=reason):
        settle_match(match.pk)
    tip.refresh_from_db()
    assert tip.status == "pending"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_settlements_award_points_once():
    assert connection.vendor == "postgresql"
    match = MatchFactory(finished=True, home_score=2, away_score=0)
    models = PredictionModelFactory.create_batch(30)
    for i, model in enumerate(models):
        PredictionFactory(match=match, model=model, predicted_home=i % 4, predicted_away=(i // 4) % 3)
    results = run_at_once(lambda: settle_match(match.pk))
    assert sorted(r.changed for r in results) == [0, 30]
    assert results[0].points == results[1].points
    assert Prediction.objects.filter(match=match, status="scored").count() == 30
