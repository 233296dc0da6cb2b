"""In-process runs in a background process: started at once, canceled for real, resumed after a crash.

Real processes (``manage.py backfill_work``) on the test database, an LLM served
over real HTTP by a local fake with latency, so a run lasts long enough to be
canceled or killed mid-way.
"""

import os
import signal
from pathlib import Path

import pytest
from django.utils import timezone

from backfill import service
from backfill.models import BackfillItem, BackfillRun
from backfill.services.plan import plan_backfill
from predictions.models import Prediction, PredictionModel
from tests.backfill.processes import wait_until
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionModelFactory
from tests.fakes.fake_llm import FakeLLMServer, good

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def llm():
    with FakeLLMServer(api_key=None) as server:
        yield server


def _lineup(llm: FakeLLMServer, latency: float) -> int:
    """A fixed-score baseline and an LLM that answers after ``latency`` seconds; returns the count."""
    llm.configure("slow-llm", default=good(1, 1), latency=latency)
    PredictionModelFactory(slug="always-2-1", provider="fixed_score", config={"home": 2, "away": 1})
    PredictionModelFactory(
        slug="slow-llm", provider="openai_compatible",
        config={"model": "slow-llm", "base_url": llm.base_url, "api_key_optional": True, "timeout": 30,
                "max_retries": 0},
    )
    return 2


def _finished_matches(n: int) -> list:
    matches = [MatchFactory(finished=True, home_score=2, away_score=1) for _ in range(n)]
    for match in matches:
        MatchAnalysisFactory(match=match)
    return matches


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def _complete(match, models: int) -> bool:
    return Prediction.objects.filter(match=match, status="scored").count() == models


def test_a_background_run_returns_while_it_goes_on_and_finishes_on_its_own(in_process, llm):
    models = _lineup(llm, latency=0.5)
    matches = _finished_matches(3)

    run = service.start_backfill(plan_backfill(7), "test", background=True)

    assert run.status == BackfillRun.Status.RUNNING and run.worker_pid and run.heartbeat_at
    assert Prediction.objects.count() < 3 * models  # returned before the work was done
    assert wait_until(lambda: BackfillRun.objects.get(pk=run.pk).is_finished, timeout=90)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert all(_complete(m, models) for m in matches)
    assert set(run.items.values_list("status", flat=True)) == {"succeeded"}


def test_cancel_stops_an_in_process_run_and_every_item_matches_the_database(in_process, llm):
    models = _lineup(llm, latency=0.7)
    matches = _finished_matches(6)
    run = service.start_backfill(plan_backfill(7), "test", background=True)
    assert wait_until(lambda: run.items.filter(status="succeeded").exists(), timeout=90)

    service.cancel_run(run)
    assert wait_until(lambda: _gone(run.worker_pid), timeout=30)  # the loop stopped and its process ended
    asked = llm.count("slow-llm")

    run.refresh_from_db()
    items = {i.match_id: i for i in run.items.all()}
    assert run.status == BackfillRun.Status.CANCELED
    assert not run.items.filter(status__in=service.UNFINISHED).exists()
    for match in matches:
        item = items[match.pk]
        assert (item.status == "succeeded") == _complete(match, models), (item.status, item.error)
        assert item.predictions_created == Prediction.objects.filter(match=match).count()
    canceled = [i for i in items.values() if i.status == "canceled"]
    assert canceled, "the run finished before the cancel: make the LLM slower"
    assert asked == Prediction.objects.filter(model__slug="slow-llm").count()  # nothing started after

    # Retry redoes exactly what is still missing.
    plan = service.retry_plan(run)
    assert sorted(g.match_id for g in plan.gaps) == sorted(i.match_id for i in canceled)
    again = service.retry_failed(run, "test")
    assert again.status == BackfillRun.Status.SUCCEEDED and again.items.count() == len(canceled)
    assert all(_complete(m, models) for m in matches)
    assert service.retry_failed(run, "test") is None  # nothing is missing any more: nothing starts


def test_a_run_whose_process_was_killed_shows_as_interrupted_and_resumes_to_the_end(
    in_process, llm, settings, monkeypatch
):
    monkeypatch.setenv("BACKFILL_HEARTBEAT_SECONDS", "0.3")  # the child's beat
    settings.BACKFILL_HEARTBEAT_TIMEOUT = 2
    models = _lineup(llm, latency=0.7)
    matches = _finished_matches(5)
    run = service.start_backfill(plan_backfill(7), "test", background=True)
    assert wait_until(lambda: run.items.filter(status="succeeded").exists(), timeout=90)
    first_pid = run.worker_pid

    os.killpg(first_pid, signal.SIGKILL)
    assert wait_until(lambda: BackfillRun.objects.get(pk=run.pk).is_interrupted(now=timezone.now()), timeout=30)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.RUNNING and run.status_label(now=timezone.now()) == "Interrupted"

    open_items = service.resume_run(run, now=timezone.now())
    assert open_items == run.items.filter(status__in=service.UNFINISHED).count() > 0
    with pytest.raises(service.BackfillError):
        service.resume_run(run, now=timezone.now())  # its new process beats: not interrupted
    assert wait_until(lambda: BackfillRun.objects.get(pk=run.pk).is_finished, timeout=90)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED and run.worker_pid != first_pid
    assert all(_complete(m, models) for m in matches)
    assert Prediction.objects.count() == len(matches) * models
    assert PredictionModel.objects.filter(is_active=True).count() == models
    assert set(run.items.values_list("status", flat=True)) == {BackfillItem.Status.SUCCEEDED}
