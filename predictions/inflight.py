"""Which path holds a match: the live pipeline's and the backfill's job ids, probed in Redis.

The two orchestrators never work on one match at once. Each enqueues a match's jobs only
while holding the same per-match Redis lock, after asking here whether the other path's jobs
of that match are queued or running. Both import this module; neither imports the other.
"""

from collections.abc import Iterable

from redis import Redis
from rq.job import Job

STAGES = ("analyze", "predict", "settle")
LIVE_JOB_ID = "{stage}-{match_id}"
RETRO_JOB_ID = "{stage}-retro-{match_id}"
# A job in one of these states will still run (or is running): its match is taken.
PENDING = frozenset({"queued", "scheduled", "deferred", "started", "created"})
LOCK_SECONDS = 60


def live_job_id(stage: str, match_id: int) -> str:
    return LIVE_JOB_ID.format(stage=stage, match_id=match_id)


def retro_job_id(stage: str, match_id: int) -> str:
    return RETRO_JOB_ID.format(stage=stage, match_id=match_id)


def chain_lock_key(match_id: int) -> str:
    """The one lock both orchestrators take around checking and enqueueing a match's jobs."""
    return f"chain-lock:{match_id}"


def chain_lock(conn: Redis, match_id: int):
    return conn.lock(chain_lock_key(match_id), timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS)


def job_statuses(conn: Redis, job_ids: Iterable[str]) -> dict[str, str | None]:
    """Status of every job id in one round trip (None: no such job)."""
    ids = list(job_ids)
    with conn.pipeline(transaction=False) as pipe:
        for jid in ids:
            pipe.hget(Job.key_for(jid), "status")
        raw = pipe.execute()
    return {jid: (value.decode() if value else None) for jid, value in zip(ids, raw, strict=True)}


def _pending(conn: Redis, ids: dict[str, str]) -> dict[str, str]:
    statuses = job_statuses(conn, ids.values())
    return {stage: jid for stage, jid in ids.items() if statuses[jid] in PENDING}


def live_jobs_pending(conn: Redis, match_id: int) -> dict[str, str]:
    """The live pipeline's queued or running jobs of the match, by stage (empty: none)."""
    return _pending(conn, {stage: live_job_id(stage, match_id) for stage in STAGES})


def retro_jobs_pending(conn: Redis, match_id: int) -> dict[str, str]:
    """The backfill's queued or running jobs of the match, by stage (empty: none)."""
    return _pending(conn, {stage: retro_job_id(stage, match_id) for stage in STAGES})
