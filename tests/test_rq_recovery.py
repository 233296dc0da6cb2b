"""config.rq_recovery: only a process proven dead on this host loses its scheduler lock or its job."""

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.utils import utcformat

from config import rq_recovery

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _scheduler(conn, name: str, *, pid: int, beat: datetime, host: str | None = None) -> None:
    conn.set("rq:scheduler-lock:backfill", name)
    conn.hset(f"rq:scheduler:{name}", mapping={"hostname": host or socket.gethostname(), "pid": pid,
                                                 "last_heartbeat": utcformat(beat)})


def _worker(conn, name: str, **fields) -> None:
    conn.sadd("rq:workers", f"rq:worker:{name}")
    conn.hset(f"rq:worker:{name}", mapping={
        "hostname": socket.gethostname(), "pid": os.getpid(), "queues": "backfill",
        rq_recovery.PID_NAMESPACE_FIELD: rq_recovery.pid_namespace(), rq_recovery.HORSE_PID_FIELD: "",
        "birth": utcformat(NOW), "last_heartbeat": utcformat(NOW), **fields})


def test_a_silent_scheduler_whose_pid_is_gone_loses_its_lock(redis_conn, dead_pid):
    _scheduler(redis_conn, "gone", pid=dead_pid, beat=NOW - timedelta(seconds=6))
    assert rq_recovery.release_dead_scheduler_locks(redis_conn, ["backfill"], now=NOW) == ["backfill"]
    assert redis_conn.get("rq:scheduler-lock:backfill") is None


@pytest.mark.parametrize("case", ["alive", "beat-recently", "other-host", "not-registered-yet"])
def test_a_scheduler_not_proven_dead_keeps_its_lock(redis_conn, dead_pid, case):
    pid = os.getpid() if case == "alive" else dead_pid
    beat = NOW - timedelta(seconds=2 if case == "beat-recently" else 60)
    _scheduler(redis_conn, "holder", pid=pid, beat=beat, host="elsewhere" if case == "other-host" else None)
    if case == "not-registered-yet":  # lock taken, scheduler process not forked yet
        redis_conn.delete("rq:scheduler:holder")
    assert rq_recovery.release_dead_scheduler_locks(redis_conn, ["backfill"], now=NOW) == []
    assert redis_conn.get("rq:scheduler-lock:backfill") == b"holder"


def test_the_lock_is_only_deleted_while_the_dead_holder_still_holds_it(redis_conn, dead_pid):
    _scheduler(redis_conn, "gone", pid=dead_pid, beat=NOW - timedelta(seconds=60))
    assert rq_recovery.dead_scheduler(redis_conn, "backfill", now=NOW) == "gone"
    redis_conn.set("rq:scheduler-lock:backfill", "successor")  # taken over between the read and the delete
    assert rq_recovery.release_lock(redis_conn, "rq:scheduler-lock:backfill", "gone") is False
    assert redis_conn.get("rq:scheduler-lock:backfill") == b"successor"


@pytest.mark.parametrize("case", ["alive", "horse-alive", "horse-not-named", "other-namespace", "other-host",
                                  "not-a-django-worker"])
def test_a_worker_not_proven_dead_is_alive(redis_conn, dead_pid, case):
    fields = {"pid": os.getpid() if case == "alive" else dead_pid,
              rq_recovery.HORSE_PID_FIELD: {"horse-alive": os.getpid(), "horse-not-named": ""}.get(case, dead_pid)}
    if case == "other-namespace":
        fields[rq_recovery.PID_NAMESPACE_FIELD] = "pid:[1]"
    if case == "other-host":
        fields["hostname"] = "elsewhere"
    _worker(redis_conn, "w", **fields)
    if case == "not-a-django-worker":
        redis_conn.hdel("rq:worker:w", rq_recovery.PID_NAMESPACE_FIELD)
    assert rq_recovery.worker_dead(redis_conn, "w") is False


def test_only_the_started_jobs_of_dead_workers_are_expired_and_the_dead_worker_unlisted(redis_conn, dead_pid):
    queue = Queue("backfill", connection=redis_conn)
    registry = StartedJobRegistry(queue=queue)
    _worker(redis_conn, "dead", pid=dead_pid, **{rq_recovery.HORSE_PID_FIELD: dead_pid})
    _worker(redis_conn, "live", **{rq_recovery.HORSE_PID_FIELD: os.getpid()})
    redis_conn.sadd("rq:workers:backfill", "rq:worker:dead", "rq:worker:live")
    deadline = NOW.timestamp() + 90
    for job_id, worker in (("a", "dead"), ("b", "live"), ("c", "dead")):
        redis_conn.zadd(registry.key, {f"{job_id}:x{job_id}": deadline})
        redis_conn.hset(f"rq:execution:{job_id}:x{job_id}", "worker_name", worker)
    assert sorted(rq_recovery.expire_jobs_of_dead_workers(registry)) == ["a", "c"]
    scores = dict(redis_conn.zrange(registry.key, 0, -1, withscores=True))
    assert scores == {b"a:xa": 0, b"c:xc": 0, b"b:xb": deadline}
    assert redis_conn.smembers("rq:workers:backfill") == {b"rq:worker:live"}
    assert rq_recovery.expire_jobs_of_dead_workers(registry) == []  # already expired: nothing new
