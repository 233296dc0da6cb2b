"""A SIGKILLed worker: the survivors take over its scheduler lock and its job within seconds.

RQ alone waits for TTLs: the dead scheduler's lock lives 61 s, the dead worker's job stays
'started' until its heartbeat lapses (90 s with the default settings). config.rq_recovery proves
the death on this host (the pid is gone) and reclaims both at the next maintenance.
"""

import time
from datetime import timedelta

import pytest
from rq import Retry
from rq.job import Job

from backfill import queueing
from tests.backfill.processes import kill_worker_and_horse, start_worker, stop, wait_until
from tests.factories import MatchFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The survivors' maintenance every 2 s; heartbeats and their grace stay at the defaults (30 + 60 s),
# so a recovery within seconds cannot come from RQ's heartbeat expiry.
FAST_MAINTENANCE = {"RQ_MAINTENANCE_INTERVAL": "2"}
WELL_BEFORE_ANY_TTL = 30.0  # rq's lock TTL is 61 s, the job's heartbeat TTL 90 s


def _status(job_id: str, conn) -> str:
    return Job.fetch(job_id, connection=conn).get_status()


def test_scheduled_retries_run_within_seconds_after_the_worker_holding_the_scheduler_lock_is_killed(redis_conn):
    queue = queueing.get_queue()
    lock = f"rq:scheduler-lock:{queue.name}"
    first = start_worker("first", **FAST_MAINTENANCE)
    assert wait_until(lambda: redis_conn.get(lock) is not None, timeout=30)
    second = start_worker("second", **FAST_MAINTENANCE)
    try:
        assert wait_until(lambda: queueing.workers_serving() == 2, timeout=30)
        dead_holder = redis_conn.get(lock)
        kill_worker_and_horse(first)  # it holds the lock: it started its scheduler first
        killed_at = time.monotonic()
        match = MatchFactory(finished=True, home_score=1, away_score=0)
        job = queue.enqueue_in(timedelta(seconds=1), "predictions.jobs.settle_match", match.pk, job_id="retry-me")
        assert wait_until(lambda: _status(job.id, redis_conn) == "finished", timeout=WELL_BEFORE_ANY_TTL,
                          interval=0.2), "the scheduled job did not run before the dead scheduler's lock expired"
        print(f"scheduled job ran {time.monotonic() - killed_at:.1f}s after the kill")
        assert redis_conn.get(lock) not in (None, dead_holder)  # the survivor's scheduler holds it now
    finally:
        stop(second)


def test_the_job_of_a_killed_worker_is_retried_by_a_survivor_within_seconds(redis_conn):
    queue = queueing.get_queue()
    victim = start_worker("victim", **FAST_MAINTENANCE)
    survivor = start_worker("survivor", **FAST_MAINTENANCE)
    try:
        assert wait_until(lambda: queueing.workers_serving() == 2, timeout=30)
        job = queue.enqueue("tests.backfill.stage_doubles.slow_first_attempt", 7, seconds=120, job_id="long-one",
                            retry=Retry(max=1))
        assert wait_until(lambda: _status(job.id, redis_conn) == "started", timeout=30)
        holder = Job.fetch(job.id, connection=redis_conn).worker_name
        assert holder in ("victim", "survivor")
        dead, alive = (victim, survivor) if holder == "victim" else (survivor, victim)
        kill_worker_and_horse(dead)
        killed_at = time.monotonic()
        assert wait_until(lambda: _status(job.id, redis_conn) == "finished", timeout=WELL_BEFORE_ANY_TTL,
                          interval=0.2), "the killed worker's job waited for its heartbeat to lapse"
        print(f"killed worker's job retried and finished {time.monotonic() - killed_at:.1f}s after the kill")
        done = Job.fetch(job.id, connection=redis_conn)
        assert done.worker_name != holder and done.retries_left == 0  # the retry, on the survivor
        assert queueing.workers_serving() == 1  # the dead worker is no longer counted as serving
    finally:
        stop(alive)
