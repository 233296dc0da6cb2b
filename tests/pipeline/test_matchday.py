"""tick(now=...) driven through a matchday on PostgreSQL and Redis, API-Football faked over real HTTP."""

from datetime import timedelta

import pytest
from rq.job import Job

from matches.models import Match
from pipeline.models import PipelineState
from pipeline.service import tick
from predictions.models import Prediction
from tests.factories import PredictionModelFactory
from tests.fakes.fake_api_football import Fault, make_fixture
from tests.pipeline.conftest import AWAY, HOME, LEAGUE, OTHER_AWAY, OTHER_HOME, SEASON

pytestmark = pytest.mark.django_db


def _fixture(fid, kickoff, home=HOME, away=AWAY, **kwargs):
    return make_fixture(fid, kickoff=kickoff, home=home, away=away, league_id=LEAGUE, season=SEASON, **kwargs)


def _snapshot(conn) -> tuple:
    """Everything a tick can change: rows of interest and the job hashes in Redis."""
    jobs = sorted(k.decode() for k in conn.keys("rq:job:*"))
    rows = (
        list(Match.objects.order_by("pk").values_list("pk", "status", "home_score", "away_score", "settled_at")),
        list(Prediction.objects.order_by("pk").values_list("pk", "status", "total_points")),
    )
    return jobs, rows


def test_a_matchday_analysed_at_t_minus_6h_predicted_at_t_minus_30m_polled_and_settled(
    api, lineup, kickoff, work, redis_conn
):
    api.set_fixtures([_fixture(1001, kickoff), _fixture(1002, kickoff, OTHER_HOME, OTHER_AWAY)])

    first = tick(now=kickoff - timedelta(hours=7))
    assert first.fixture_sync["ran"] and first.fixture_sync["created"] == 2
    assert first.analysed == [] and first.predicted == []
    a, b = Match.objects.order_by("external_id")

    at_6h = tick(now=kickoff - timedelta(hours=6))
    assert {e["match_id"]: e["state"] for e in at_6h.analysed} == {a.pk: "enqueued", b.pk: "enqueued"}
    assert at_6h.analysed[0]["job_ids"] == [f"analyze-{a.pk}"]
    work()
    assert a.analysis.as_of == kickoff - timedelta(hours=6)

    before = _snapshot(redis_conn)
    again = tick(now=kickoff - timedelta(hours=6))
    assert again.analysed == [] and again.predicted == [] and not again.fixture_sync["ran"]
    assert _snapshot(redis_conn) == before, "a second tick at the same now changed something"

    assert tick(now=kickoff - timedelta(minutes=31)).predicted == []
    at_30m = tick(now=kickoff - timedelta(minutes=30))
    assert {e["match_id"] for e in at_30m.predicted} == {a.pk, b.pk}
    assert Job.fetch(f"predict-{a.pk}", connection=redis_conn).origin == "default"
    work()
    preds = Prediction.objects.filter(match=a)
    assert preds.count() == 3 and not preds.filter(is_retroactive=True).exists()
    assert all(p.created_at < kickoff for p in preds)
    assert {p.analysis_id for p in preds} == {a.analysis.pk}

    # A model switched on after kickoff is never predicted by the pipeline: that is the backfill's job.
    PredictionModelFactory(slug="late-model")
    api.upsert_fixture(_fixture(1001, kickoff, status="1H", goals=(1, 0), elapsed=20))
    api.upsert_fixture(_fixture(1002, kickoff, OTHER_HOME, OTHER_AWAY, status="1H", goals=(0, 0), elapsed=20))
    api.clear_log()
    live = tick(now=kickoff + timedelta(minutes=20))
    assert live.predicted == [] and live.polled["api_calls"] == 1
    assert api.requests[0].params["ids"] in (f"{1001}-{1002}", f"{1002}-{1001}")
    a.refresh_from_db()
    assert a.status == Match.Status.LIVE

    api.upsert_fixture(_fixture(1001, kickoff, status="FT", goals=(2, 1)))
    final = tick(now=kickoff + timedelta(hours=2))
    assert [c["match_id"] for c in final.changed if c["settled"] == "scored"] == [a.pk]
    a.refresh_from_db()
    assert (a.status, a.home_score, a.away_score) == ("finished", 2, 1) and a.settled_at is not None
    assert set(Prediction.objects.filter(match=a).values_list("status", flat=True)) == {"scored"}
    assert Prediction.objects.get(match=a, model__slug="fixed-2-1").exact_score_bonus > 0
    assert not Prediction.objects.filter(model__slug="late-model").exists()
    assert PipelineState.load().last_tick_at == kickoff + timedelta(hours=2)


def test_a_stuck_match_is_rechecked_by_id_and_given_its_real_status(api, lineup, kickoff, work, settings):
    settings.FIXTURE_SYNC_EVERY = timedelta(days=1)  # so only the stuck recheck can learn the news
    api.set_fixtures([_fixture(1001, kickoff)])
    tick(now=kickoff - timedelta(minutes=30))
    work()
    match = Match.objects.get()
    assert match.predictions.count() == 3
    # The provider never reported the match live; three hours on it says it was postponed.
    api.upsert_fixture(_fixture(1001, kickoff, status="PST"))
    api.clear_log()
    report = tick(now=kickoff + timedelta(hours=3, minutes=5))
    assert [s["match_id"] for s in report.stuck] == [match.pk]
    assert "1001" in api.requests[-1].params.get("ids", "")
    match.refresh_from_db()
    assert match.status == Match.Status.POSTPONED
    assert set(match.predictions.values_list("status", flat=True)) == {"void"}


def test_a_finished_match_is_settled_however_its_result_arrived(api, lineup, kickoff, work):
    api.set_fixtures([_fixture(1001, kickoff)])
    tick(now=kickoff - timedelta(minutes=30))
    work()
    match = Match.objects.get()
    # An operator enters the result in the admin: no poll sees it change.
    Match.objects.filter(pk=match.pk).update(status=Match.Status.FINISHED, home_score=1, away_score=1)
    report = tick(now=kickoff + timedelta(days=1))
    assert [(e["match_id"], e["job_ids"]) for e in report.settled] == [(match.pk, [f"settle-{match.pk}"])]
    work()
    assert set(match.predictions.values_list("status", flat=True)) == {"scored"}
    assert tick(now=kickoff + timedelta(days=1, minutes=1)).settled == []


def test_the_api_being_down_is_reported_and_the_sync_retried_on_the_next_tick(api, lineup, kickoff):
    api.set_fixtures([_fixture(1001, kickoff)])
    api.inject("fixtures", Fault.server_error(500))
    report = tick(now=kickoff - timedelta(hours=7))
    assert report.unavailable and "ServerError" in report.unavailable[0] and not report.ok
    assert PipelineState.load().last_fixture_sync_at is None
    retry = tick(now=kickoff - timedelta(hours=7, minutes=-1))
    assert retry.ok and retry.fixture_sync["created"] == 1
