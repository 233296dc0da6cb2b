"""The daily schedule: registered with RQ's cron from settings, and idempotent when it fires twice."""

import sys
from datetime import UTC

import pytest
from django_rq.cron import DjangoCronScheduler

from backfill.jobs import scheduled_backfill
from backfill.models import BackfillRun

pytestmark = pytest.mark.django_db


def test_cron_config_registers_the_daily_backfill_from_settings(redis_conn, settings):
    settings.BACKFILL_CRON = "15 3 * * *"
    settings.BACKFILL_CRON_DAYS = 5
    sys.modules.pop("config.cron", None)
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("config.cron")
    (job,) = [j for j in scheduler.get_jobs() if j.func is scheduled_backfill]
    assert job.func is scheduled_backfill and job.queue_name == "backfill"
    assert job.cron == "15 3 * * *" and job.kwargs == {"days": 5}
    assert job.get_next_enqueue_time().astimezone(UTC).strftime("%H:%M") == "03:15"


def test_a_second_scheduled_run_reuses_the_first_runs_chains(lineup, finished_match, rq_queue):
    first = scheduled_backfill(days=7)
    second = scheduled_backfill(days=7)
    assert first["gaps"] == second["gaps"] == 1
    runs = BackfillRun.objects.order_by("pk")
    assert [r.triggered_by for r in runs] == ["cron", "cron"]
    assert runs[1].items.get().reused
    assert rq_queue.count == 1
