"""A worker killed while it runs the queue's scheduler: another worker's scheduler takes over."""

from datetime import timedelta

import pytest
from rq.job import Job

from backfill import queueing
from tests.backfill.processes import kill_worker_and_horse, start_worker, stop, wait_until
from tests.factories import MatchFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_scheduled_retries_run_after_the_worker_holding_the_scheduler_lock_is_killed(redis_conn):
    """RQ's lock outlives its dead holder by ~61 s; the survivor must retry the lock then, not after
    its 600 s default maintenance interval (nor sleep ~405 s in an idle dequeue)."""
    queue = queueing.get_queue()
    lock = f"rq:scheduler-lock:{queue.name}"
    env = {"RQ_MAINTENANCE_INTERVAL": "2"}
    first = start_worker("first", **env)
    assert wait_until(lambda: redis_conn.get(lock) is not None, timeout=30)
    second = start_worker("second", **env)
    try:
        assert wait_until(lambda: queueing.workers_serving() == 2, timeout=30)
        dead_holder = redis_conn.get(lock)
        kill_worker_and_horse(first)  # it holds the lock: it started its scheduler first
        match = MatchFactory(finished=True, home_score=1, away_score=0)
        job = queue.enqueue_in(timedelta(seconds=1), "predictions.jobs.settle_match", match.pk, job_id="retry-me")
        assert wait_until(lambda: Job.fetch(job.id, connection=redis_conn).get_status() == "finished",
                          timeout=110, interval=0.5), "the scheduled job never ran"
        assert redis_conn.get(lock) not in (None, dead_holder)  # the survivor's scheduler holds it now
    finally:
        stop(second)
