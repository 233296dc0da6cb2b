"""The live pipeline and the backfill skip a match whose other path's jobs are queued or running."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backfill import queueing as backfill_queueing
from pipeline import queueing
from pipeline.service import tick
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def test_the_backfill_leaves_a_match_whose_live_jobs_are_in_flight_to_them(lineup, default_queue):
    match = MatchFactory(kickoff_time=timezone.now() - timedelta(minutes=1))
    assert queueing.enqueue(match.pk, ["analyze", "predict"]).state == "enqueued"
    outcome = backfill_queueing.enqueue_chain(backfill_queueing.get_queue(), match.pk, ["analyze", "predict"])
    assert outcome.state == "in_flight"
    assert outcome.job_ids == {"analyze": f"analyze-{match.pk}", "predict": f"predict-{match.pk}"}
    assert not default_queue.connection.exists(f"rq:job:predict-retro-{match.pk}")


def test_the_tick_leaves_a_match_whose_backfill_jobs_are_in_flight_to_them(lineup, default_queue):
    match = MatchFactory(finished=True, home_score=1, away_score=1)
    MatchAnalysisFactory(match=match)
    PredictionFactory(match=match, model=lineup[0])
    backfill_queueing.enqueue_chain(backfill_queueing.get_queue(), match.pk, ["predict", "settle"])
    report = tick(now=timezone.now())
    assert [(e["match_id"], e["state"]) for e in report.settled] == [(match.pk, "backfill")]
    assert not default_queue.connection.exists(f"rq:job:settle-{match.pk}")


def test_a_live_job_in_flight_is_not_enqueued_twice(lineup, default_queue):
    match = MatchFactory(kickoff_time=timezone.now() + timedelta(minutes=10))
    now = timezone.now()
    first, second = tick(now=now), tick(now=now)
    assert [e["state"] for e in first.predicted] == ["enqueued"]
    assert [e["state"] for e in second.predicted] == ["in_flight"]
    assert default_queue.job_ids == [f"analyze-{match.pk}"]  # predict waits deferred on its analysis


def test_cron_enqueues_the_tick_every_minute_on_the_live_queue(redis_conn):
    import sys

    from django_rq.cron import DjangoCronScheduler

    from pipeline.jobs import scheduled_tick

    sys.modules.pop("config.cron", None)
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("config.cron")
    (job,) = [j for j in scheduler.get_jobs() if j.func is scheduled_tick]
    assert job.queue_name == "default" and job.cron == "* * * * *"


def test_the_scheduled_tick_runs_one_tick_at_the_real_time(lineup, settings):
    from pipeline.jobs import scheduled_tick

    settings.REDIS_URL = ""
    match = MatchFactory(kickoff_time=timezone.now() + timedelta(minutes=5))
    report = scheduled_tick()
    assert report["ok"] and [e["match_id"] for e in report["predicted"]] == [match.pk]
