"""Atomic, idempotent enqueue of a match's chain on the backfill queue (real Redis)."""

import threading

import pytest
from rq import SimpleWorker
from rq.job import Job
from rq.registry import DeferredJobRegistry

from backfill import queueing
from backfill.selectors import Stage
from tests.backfill import stage_doubles

ALL = (Stage.ANALYZE, Stage.PREDICT, Stage.SETTLE)


@pytest.fixture
def queue(redis_conn, settings):
    settings.BACKFILL_RETRY_BASE_SECONDS = 0
    return queueing.get_queue()


@pytest.fixture
def doubles(monkeypatch):
    stage_doubles.CALLS.clear()

    def use(**funcs):
        for stage, name in funcs.items():
            monkeypatch.setitem(queueing.STAGE_FUNCTIONS, stage, f"tests.backfill.stage_doubles.{name}")

    use(analyze="ok", predict="ok", settle="ok")
    return use


@pytest.fixture
def no_callbacks(monkeypatch):
    """Queue mechanics only: the callbacks touch the database, which these tests don't set up."""
    monkeypatch.setattr(queueing, "Callback", lambda name: None)


def _burst(queue):
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_job_ids_are_deterministic():
    assert queueing.chain_job_ids(42) == {
        "analyze": "analyze-retro-42", "predict": "predict-retro-42", "settle": "settle-retro-42"
    }


def test_chain_is_linked_by_rq_dependencies_on_the_backfill_queue(queue, doubles, no_callbacks):
    outcome = queueing.enqueue_chain(queue, 7, ALL)
    assert outcome.state == "enqueued"
    analyze, predict, settle = (Job.fetch(outcome.job_ids[s], connection=queue.connection) for s in ALL)
    assert queue.name == "backfill" and queue.job_ids == ["analyze-retro-7"]
    assert predict._dependency_ids == ["analyze-retro-7"] and settle._dependency_ids == ["predict-retro-7"]
    assert predict.get_status() == "deferred" and settle.get_status() == "deferred"
    assert predict.kwargs == {"allow_retroactive": True}
    assert analyze.retries_left == 4 and predict.retries_left == 4 and settle.retries_left == 2
    _burst(queue)
    assert [s for s, _ in stage_doubles.CALLS] == ["ok", "ok", "ok"]
    assert all(Job.fetch(j, connection=queue.connection).get_status() == "finished" for j in outcome.job_ids.values())


def test_pending_chain_is_left_alone_and_counted_in_flight(queue, doubles, no_callbacks):
    queueing.enqueue_chain(queue, 7, ALL)
    again = queueing.enqueue_chain(queue, 7, ALL)
    assert again.state == "in_flight" and set(again.job_ids) == set(ALL)
    assert queue.job_ids == ["analyze-retro-7"]
    assert len(DeferredJobRegistry(queue=queue).get_job_ids()) == 2


def test_finished_chain_is_replaced_and_runs_again(queue, doubles, no_callbacks):
    queueing.enqueue_chain(queue, 7, (Stage.PREDICT,))
    _burst(queue)
    again = queueing.enqueue_chain(queue, 7, (Stage.PREDICT,))
    assert again.state == "enqueued"
    _burst(queue)
    assert stage_doubles.CALLS == [("ok", 7), ("ok", 7)]


def test_stages_a_chain_in_flight_already_finished_count_as_covered(queue, doubles, no_callbacks):
    """Two runs planned at once: by the time the second enqueues, the first's analysis and predictions
    are done and its settlement is pending. Nothing is missing; the chain is in flight."""
    first = queueing.enqueue_chain(queue, 7, ALL)
    for stage in (Stage.ANALYZE, Stage.PREDICT):
        Job.fetch(first.job_ids[stage], connection=queue.connection).set_status("finished")

    again = queueing.enqueue_chain(queue, 7, ALL)

    assert (again.state, again.missing) == ("in_flight", ())
    assert again.job_ids == {Stage.SETTLE: "settle-retro-7"}


def test_racing_enqueuers_produce_one_chain(queue, doubles, no_callbacks):
    barrier = threading.Barrier(8)
    outcomes = []

    def enqueue():
        barrier.wait()
        outcomes.append(queueing.enqueue_chain(queueing.get_queue(), 9, ALL).state)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["enqueued"] + ["in_flight"] * 7
    assert queue.job_ids == ["analyze-retro-9"]
    assert sorted(DeferredJobRegistry(queue=queue).get_job_ids()) == ["predict-retro-9", "settle-retro-9"]


def test_deferred_job_whose_parent_died_is_not_in_flight(queue, doubles, no_callbacks):
    """RQ keeps dependents of a failed parent deferred forever; they must not block a new chain."""
    doubles(analyze="boom")
    queueing.enqueue_chain(queue, 5, ALL)
    _burst(queue)  # analyze fails after its retries; no callback cancels the dependents here
    assert Job.fetch("analyze-retro-5", connection=queue.connection).get_status() == "failed"
    assert Job.fetch("predict-retro-5", connection=queue.connection).get_status() == "deferred"
    doubles(analyze="ok")
    again = queueing.enqueue_chain(queue, 5, ALL)
    assert again.state == "enqueued"
    _burst(queue)
    assert stage_doubles.CALLS[-3:] == [("ok", 5)] * 3


def test_failed_stage_is_retried_with_its_attempt_budget(queue, doubles, no_callbacks):
    doubles(settle="boom")
    queueing.enqueue_chain(queue, 3, (Stage.SETTLE,))
    _burst(queue)
    assert stage_doubles.CALLS == [("boom", 3)] * queueing.STAGE_ATTEMPTS[Stage.SETTLE]


def test_statuses_of_many_jobs_in_one_round_trip(queue, doubles, no_callbacks):
    queueing.enqueue_chain(queue, 1, ALL)
    statuses = queueing.fetch_statuses(queue, ["analyze-retro-1", "predict-retro-1", "nope"])
    assert statuses == {"analyze-retro-1": "queued", "predict-retro-1": "deferred", "nope": None}


def test_cancel_pending_cancels_queued_and_deferred(queue, doubles, no_callbacks):
    outcome = queueing.enqueue_chain(queue, 4, ALL)
    canceled = queueing.cancel_pending(queue, outcome.job_ids.values())
    assert sorted(canceled) == sorted(outcome.job_ids.values())
    _burst(queue)
    assert stage_doubles.CALLS == []
    assert queueing.enqueue_chain(queue, 4, ALL).state == "enqueued"


def test_a_retry_no_scheduler_ran_is_not_in_flight(queue, doubles, no_callbacks):
    """Without a worker started --with-scheduler, a scheduled retry never runs; it must not block the match."""
    from datetime import UTC, datetime, timedelta

    queue.enqueue_at(datetime.now(UTC) - timedelta(minutes=10), "tests.backfill.stage_doubles.ok", 6,
                     job_id="predict-retro-6")
    assert Job.fetch("predict-retro-6", connection=queue.connection).get_status() == "scheduled"
    again = queueing.enqueue_chain(queue, 6, (Stage.PREDICT,))
    assert again.state == "enqueued"
    _burst(queue)
    assert stage_doubles.CALLS == [("ok", 6)]


def test_a_retry_waiting_for_its_time_is_in_flight(queue, doubles, no_callbacks):
    from datetime import UTC, datetime, timedelta

    queue.enqueue_at(datetime.now(UTC) + timedelta(seconds=30), "tests.backfill.stage_doubles.ok", 6,
                     job_id="predict-retro-6")
    assert queueing.enqueue_chain(queue, 6, (Stage.PREDICT,)).state == "in_flight"
