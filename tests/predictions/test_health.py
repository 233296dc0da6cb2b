"""Model health under concurrency: predict jobs of different matches update the same model rows."""

import threading

import pytest

from predictions.models import PredictionModel
from predictions.services.health import record_outcomes
from tests.concurrency import run_at_once
from tests.factories import PredictionModelFactory


@pytest.mark.django_db(transaction=True)
def test_two_jobs_recording_crosswise_outcomes_at_once_never_deadlock():
    """Job A: models 1 and 2 succeeded, 3 failed; job B: 3 succeeded, 1 failed. Written in the order
    they come, A locks {1, 2} then wants 3 while B holds 3 and wants 1: PostgreSQL kills one as a
    deadlock. Locked up front in pk order, both finish."""
    one, two, three = (PredictionModelFactory().pk for _ in range(3))
    roles = iter([([one, two], {three: "timeout"}), ([three], {one: "HTTP 500"})] * 50)
    lock = threading.Lock()

    def job():
        with lock:
            successes, failures = next(roles)
        return record_outcomes(successes, failures)

    for _ in range(25):
        run_at_once(job)

    # 25 rounds: model 3 failed then succeeded in each, so whichever ran last decides; counts stay sane.
    for model in PredictionModel.objects.all():
        assert model.consecutive_failures in (0, 1) and model.is_active


@pytest.mark.django_db
def test_outcomes_reset_successes_count_failures_and_trip_the_breaker(settings):
    settings.MODEL_FAILURE_THRESHOLD = 2
    ok = PredictionModelFactory(consecutive_failures=1, last_error="old")
    flaky = PredictionModelFactory(consecutive_failures=1)

    tripped = record_outcomes([ok.pk], {flaky.pk: "reply was not JSON"})

    ok.refresh_from_db()
    flaky.refresh_from_db()
    assert tripped == {flaky.pk}
    assert ok.consecutive_failures == 0 and ok.last_success_at is not None
    assert not flaky.is_active and "reply was not JSON" in flaky.inactive_reason
