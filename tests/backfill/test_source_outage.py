"""API-Football down during a backfill: the analyses give their worker back, predictions go on.

One real worker. While the source answers 503, the analyses come back later (RQ's returned Retry,
their own retries untouched) instead of holding the worker through the client's backoff, so the
match analysed before the outage is predicted during it; once the source is back, every item
completes, once.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rq.job import Job

from backfill import service
from backfill.models import BackfillItem
from predictions.models import Prediction
from tests.backfill.processes import start_worker, stop, wait_until
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionModelFactory
from tests.fakes.fake_api_football import FakeApiFootball

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _waits(job: Job) -> int:
    job.refresh()
    return job.number_of_retries or 0


def test_analyses_wait_out_an_outage_without_holding_the_worker_and_complete_after_it(redis_conn):
    PredictionModelFactory(slug="fixed", provider="fixed_score", config={"home": 1, "away": 0})
    now = timezone.now()
    # Each in a season we hold nothing of; queued first (the plan goes by kickoff).
    needs_api = [MatchFactory(finished=True, kickoff_time=now - timedelta(hours=5 - i)) for i in range(2)]
    analysed = MatchFactory(finished=True, kickoff_time=now - timedelta(hours=2))
    MatchAnalysisFactory(match=analysed)
    with FakeApiFootball(api_key="outage-key") as api:
        api.go_down(600)
        env = {"API_FOOTBALL_BASE_URL": api.base_url, "API_FOOTBALL_KEY": api.api_key,
               "API_FOOTBALL_DOWN_SECONDS": "2", "API_FOOTBALL_BACKOFF_BASE": "1", "RQ_MAINTENANCE_INTERVAL": "1"}
        run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
        worker = start_worker("only", **env)
        try:
            # The only worker took both analyses first, gave them back, and is free for the prediction.
            assert wait_until(lambda: Prediction.objects.filter(match=analysed).exists(), timeout=60)
            jobs = [Job.fetch(f"analyze-retro-{m.pk}", connection=redis_conn) for m in needs_api]
            assert all(_waits(j) >= 1 for j in jobs)
            assert wait_until(lambda: all(_waits(j) >= 2 for j in jobs), timeout=30)
            assert all(j.retries_left == 4 for j in jobs)  # waiting used none of the stage's own retries
            assert not Prediction.objects.filter(match__in=needs_api).exists()
            sent_while_down = len(api.requests)
            # 3 failures mark it down; then one probe per 2 s mark at most, not 5 attempts per job.
            assert sent_while_down < 3 + 2 * 10
            api.go_down(0)
            assert service.wait_for_run(run, timeout=60, tick=0.2)
        finally:
            stop(worker)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert set(run.items.values_list("status", flat=True)) == {BackfillItem.Status.SUCCEEDED}
    rows = list(Prediction.objects.values_list("match_id", "model__slug"))
    assert sorted(rows) == sorted({(m.pk, "fixed") for m in [*needs_api, analysed]})
