"""The replayed clock is the writer's clock: what is written after a replayed kickoff is flagged retroactive.

Kickoffs here sit in the real future (a replay shifts a matchday there), so the real clock would
call every row pre-kickoff: only the clock passed down tells the truth.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from backfill import service as backfill
from backfill.selectors import find_gaps
from matches.models import Match
from pipeline import replay
from pipeline.models import ReplayOutage
from pipeline.service import tick
from predictions.jobs import predict_match
from predictions.models import Prediction
from predictions.services import PredictionRefused, generate_predictions
from tests.factories import MatchAnalysisFactory, MatchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_process(settings):
    settings.REDIS_URL = ""
    settings.API_FOOTBALL_KEY = ""


@pytest.fixture
def upcoming(db):
    """A match kicking off in the real future, with its pre-kickoff analysis."""
    match = MatchFactory(kickoff_time=(timezone.now() + timedelta(hours=8)).replace(microsecond=0))
    MatchAnalysisFactory(match=match, as_of=match.kickoff_time - timedelta(hours=6))
    return match


def test_a_prediction_written_after_the_replayed_kickoff_is_flagged_retroactive(lineup, upcoming):
    clock = upcoming.kickoff_time + timedelta(minutes=10)

    result = generate_predictions(upcoming.pk, allow_retroactive=True, now=clock)

    preds = Prediction.objects.filter(match=upcoming)
    assert result.is_retroactive and preds.count() == len(lineup)
    assert set(preds.values_list("is_retroactive", flat=True)) == {True}
    assert set(preds.values_list("created_at", flat=True)) == {clock}


def test_the_live_job_refuses_a_replayed_clock_at_kickoff_and_writes_nothing(lineup, upcoming):
    with pytest.raises(PredictionRefused, match="has kicked off"):
        predict_match(upcoming.pk, now=upcoming.kickoff_time.isoformat())

    assert not Prediction.objects.filter(match=upcoming).exists()


def test_without_a_clock_the_job_writes_by_the_real_time_as_before(lineup, upcoming):
    before = timezone.now()

    result = predict_match(upcoming.pk, allow_retroactive=False)

    assert result["created"] == len(lineup) and not result["is_retroactive"]
    created = set(Prediction.objects.filter(match=upcoming).values_list("created_at", flat=True))
    assert len(created) == 1 and before <= created.pop() <= timezone.now()


def test_a_tick_given_its_clock_writes_its_predictions_by_it(lineup, upcoming, in_process):
    clock = upcoming.kickoff_time - timedelta(minutes=20)

    tick(now=clock)

    preds = Prediction.objects.filter(match=upcoming)
    assert preds.count() == len(lineup) and not preds.filter(is_retroactive=True).exists()
    assert set(preds.values_list("created_at", flat=True)) == {clock}


def test_the_backfill_sees_replayed_matches_and_flags_what_it_writes_by_the_replayed_clock(lineup, in_process):
    plan = replay.start_replay(now=timezone.now(), round="Matchday 38")
    clock = plan.ends_at + timedelta(minutes=5)
    assert {g.match_id for g in find_gaps(days=2, now=clock)} == set(plan.match_ids)

    backfill.start_backfill(backfill.plan_backfill(2, match_ids=plan.match_ids, clock=clock), triggered_by="test")

    preds = Prediction.objects.filter(match_id__in=plan.match_ids)
    assert preds.count() == 10 * len(lineup)
    assert set(preds.values_list("is_retroactive", "created_at")) == {(True, clock)}
    assert find_gaps(days=2, now=clock, match_ids=plan.match_ids) == []


def test_while_the_replays_source_is_down_results_wait_and_the_tick_says_unavailable(lineup, in_process):
    plan = replay.start_replay(now=timezone.now(), round="Matchday 38")
    end = plan.ends_at
    ReplayOutage.objects.create(starts_at=end - timedelta(minutes=30), ends_at=end + timedelta(hours=1))

    during = tick(now=end + timedelta(minutes=5))

    assert any("result source is down" in u for u in during.unavailable)
    assert not Match.objects.filter(pk__in=plan.match_ids, status=Match.Status.FINISHED).exists()
    after = tick(now=end + timedelta(hours=1, minutes=1))
    assert after.ok and Match.objects.filter(pk__in=plan.match_ids, status=Match.Status.FINISHED).count() == 10
