"""Job ids, the atomic enqueue of a match's chain on the ``backfill`` queue, and job state.

Idempotency layer one (layer two is PostgreSQL's unique constraints): the
chain of a match is enqueued under a per-match Redis lock (SET NX with a
token, released by compare-and-delete), and inside it the deterministic job
ids are checked and written. Two enqueuers racing therefore produce one
chain; a pending job is left alone ("already in flight"); a finished,
failed, stopped or canceled job is deleted and replaced.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.timeouts import TimerDeathPenalty

from backfill.errors import ServiceUnavailable
from backfill.models import BackfillItem
from predictions import inflight
from predictions.jobs import RETRIES_FAILED_MODELS

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage

QUEUE_NAME = "backfill"
JOB_ID_TEMPLATES = {
    Stage.ANALYZE: "analyze-retro-{match_id}",
    Stage.PREDICT: "predict-retro-{match_id}",
    Stage.SETTLE: "settle-retro-{match_id}",
}
STAGE_FUNCTIONS = {
    Stage.ANALYZE: "matches.jobs.analyze_match",
    Stage.PREDICT: "predictions.jobs.predict_match",
    Stage.SETTLE: "predictions.jobs.settle_match",
}
# Attempts in all (the first run plus retries), per stage.
STAGE_ATTEMPTS = {Stage.ANALYZE: 5, Stage.PREDICT: 5, Stage.SETTLE: 3}
PENDING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED, JobStatus.CREATED}
DEAD = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
RESULT_TTL = 7 * 86400
FAILURE_TTL = 7 * 86400
LOCK_SECONDS = 60
# A scheduler enqueues due jobs every second; a retry this late has no scheduler to run it.
OVERDUE_SECONDS = 300


def job_id(stage: str, match_id: int) -> str:
    return JOB_ID_TEMPLATES[stage].format(match_id=match_id)


def chain_job_ids(match_id: int) -> dict[str, str]:
    return {stage: job_id(stage, match_id) for stage in Stage.ORDER}


def redis_enabled() -> bool:
    """False is the embedded default: no Redis, jobs run in-process."""
    return bool(settings.REDIS_URL)


def get_queue() -> Queue:
    return django_rq.get_queue(QUEUE_NAME)


def check_connection() -> None:
    """Fail before anything is recorded when Redis is configured but unreachable."""
    try:
        get_queue().connection.ping()
    except RedisError as exc:
        raise ServiceUnavailable(f"Redis at REDIS_URL is unreachable ({exc.__class__.__name__}); start it or unset "
                            "REDIS_URL to run in-process") from None


def workers_serving() -> int:
    """How many RQ workers listen on the backfill queue (0: jobs wait until one starts)."""
    return len(Worker.all(queue=get_queue()))


def scheduler_running() -> bool:
    """Whether a worker started --with-scheduler holds the queue's scheduler lock (retries with backoff need one)."""
    queue = get_queue()
    return bool(queue.connection.exists(f"rq:scheduler-lock:{queue.name}"))


def retry_policy(stage: str) -> Retry:
    """Exponential backoff between attempts (needs workers started --with-scheduler)."""
    retries = STAGE_ATTEMPTS[stage] - 1
    base = settings.BACKFILL_RETRY_BASE_SECONDS
    return Retry(max=retries, interval=[base * 2**i for i in range(retries)])


@dataclass
class ChainOutcome:
    match_id: int
    state: str  # "enqueued" or "in_flight"
    job_ids: dict[str, str] = field(default_factory=dict)
    # Stages the caller needs that the chain in flight does not run (and could not be added to it).
    missing: tuple[str, ...] = ()


def _status(job: Job | None) -> JobStatus | None:
    return None if job is None else job.get_status(refresh=False)


def _orphaned(job: Job, chain: dict[str, Job | None], orphans: set[str], conn) -> bool:
    """A deferred job whose parent died, vanished or is itself orphaned will never run.

    RQ leaves such dependents deferred forever; they must not count as in flight.
    """
    by_id = {j.id: j for j in chain.values() if j is not None}
    for parent_id in job._dependency_ids:
        if parent_id in orphans:
            return True
        parent = by_id.get(parent_id) or Job.fetch_many([parent_id], connection=conn)[0]
        if parent is None or _status(parent) in DEAD:
            return True
    return False


def stage_kwargs(stage: str, clock: datetime | None = None) -> dict:
    """A stage job's keyword arguments; ``clock`` is a replayed writer's clock (the chaos demo)."""
    if stage == Stage.ANALYZE:
        # Under a worker: while API-Football is down, the analysis gives its worker back to the
        # predictions and comes back later (matches.jobs.analyze_match).
        return {"wait_if_source_down": True}
    if stage != Stage.PREDICT:
        return {}
    return {"allow_retroactive": True, **({"now": clock.isoformat()} if clock is not None else {})}


def _enqueue_stages(queue: Queue, match_id: int, stages: Sequence[str], parent: Job | None,
                    clock: datetime | None = None) -> dict[str, str]:
    enqueued: dict[str, str] = {}
    for stage in stages:
        kwargs = stage_kwargs(stage, clock)
        parent = queue.enqueue(
            STAGE_FUNCTIONS[stage],
            args=(match_id,),
            kwargs=kwargs,
            job_id=job_id(stage, match_id),
            # A finished stage's next stage goes to the front of the queue, so predictions start with the
            # first analysis instead of after every analysis of the run.
            depends_on=Dependency(jobs=[parent], enqueue_at_front=True) if parent is not None else None,
            retry=retry_policy(stage),
            job_timeout=settings.BACKFILL_TIMEOUTS[stage],
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            on_success=Callback("backfill.callbacks.stage_succeeded"),
            on_failure=Callback("backfill.callbacks.stage_failed"),
            # The predict stage is retried while models fail (backfill.callbacks): their failures
            # count towards the circuit breaker on the last attempt only.
            meta={"match_id": match_id, "stage": stage,
                  **({RETRIES_FAILED_MODELS: True} if stage == Stage.PREDICT else {})},
            description=f"backfill {stage} match {match_id}",
        )
        enqueued[stage] = parent.id
    return enqueued


def _delete(jobs: Iterable[Job], conn) -> None:
    """Remove replaced jobs with their old results (rq 2.12's delete keeps the results stream)."""
    for job in jobs:
        job.delete(remove_from_queue=True)
        conn.delete(Result.get_key(job.id))


def _overdue(queue: Queue, job: Job) -> bool:
    """A scheduled retry long past its time: no worker runs --with-scheduler, so it would never run."""
    try:
        due = ScheduledJobRegistry(queue=queue).get_scheduled_time(job)
    except NoSuchJobError:
        return True
    return (datetime.now(UTC) - due).total_seconds() > OVERDUE_SECONDS


def enqueue_chain(queue: Queue, match_id: int, stages: Sequence[str], *, clock: datetime | None = None) -> ChainOutcome:
    """Make sure one chain runs ``stages`` for the match: reuse the one in flight, extend it, or enqueue anew.

    1. Take the match's Redis lock (SET NX with a token; released by compare-and-delete), so two
       enqueuers racing for the same match see each other's jobs and produce one chain.
    2. Fetch the match's three deterministic job ids (``analyze-retro-{id}``, ...) in one round trip.
    3. Keep as *live* the jobs still pending (queued, scheduled, deferred, started), except a deferred
       job whose parent died or vanished (RQ would leave it deferred forever) and a scheduled retry long
       overdue (no scheduler runs it): those are orphans and count as absent.
    4. With live jobs, the chain is in flight. A needed stage that chain already finished before its
       last live stage is covered. If every stage still missing comes after the last live one, append
       them to the chain (depending on its last job) and report ``in_flight`` with the added ids;
       otherwise report ``in_flight`` with the stages it cannot run in ``missing``.
    5. With none live, delete the old jobs and their results (finished, failed, stopped, canceled or
       orphaned) and enqueue the requested stages as a new chain, each depending on the one before.
    """
    conn = queue.connection
    ids = chain_job_ids(match_id)
    order = Stage.ORDER.index
    with conn.lock(inflight.chain_lock_key(match_id), timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):
        if live := inflight.live_jobs_pending(conn, match_id):
            # The live pipeline is on this match (same lock, see predictions.inflight): leave it to it.
            logger.info("live pipeline jobs in flight", extra={"match_id": match_id, "job_ids": list(live.values())})
            return ChainOutcome(match_id, "in_flight", live, tuple(s for s in stages if s not in live))
        jobs = dict(zip(ids, Job.fetch_many(list(ids.values()), connection=conn, serializer=queue.serializer),
                        strict=True))
        live, orphans = {}, set()
        for stage, job in jobs.items():
            status = _status(job)
            if status not in PENDING:
                continue
            if status == JobStatus.DEFERRED and _orphaned(job, jobs, orphans, conn):
                logger.warning("replacing orphaned deferred job", extra={"match_id": match_id, "job_id": job.id})
                orphans.add(job.id)
                continue
            if status == JobStatus.SCHEDULED and _overdue(queue, job):
                logger.warning("replacing a retry no scheduler ran", extra={"match_id": match_id, "job_id": job.id})
                orphans.add(job.id)
                continue
            live[stage] = job.id
        if live:
            last = max(live, key=order)
            # A needed stage this chain already finished, before a stage still in flight, is covered:
            # the plan was read before it finished (a concurrent run's chain got there first).
            missing = [s for s in stages if s not in live
                       and not (order(s) < order(last) and _status(jobs[s]) == JobStatus.FINISHED)]
            if missing and all(order(s) > order(last) for s in missing):
                # Extend the chain in flight with the later stages it lacks (e.g. settle after new predictions).
                _delete((jobs[s] for s in missing if jobs[s] is not None), conn)
                added = _enqueue_stages(queue, match_id, missing, jobs[last], clock)
                logger.info("extended chain in flight", extra={"match_id": match_id, "stages": missing})
                return ChainOutcome(match_id, "in_flight", {**live, **added})
            return ChainOutcome(match_id, "in_flight", live, tuple(missing))
        _delete((job for job in jobs.values() if job is not None), conn)
        enqueued = _enqueue_stages(queue, match_id, stages, None, clock)
        logger.info("enqueued chain", extra={"match_id": match_id, "stages": list(stages)})
        return ChainOutcome(match_id, "enqueued", enqueued)


def enqueue_run_job_id(run_id: int) -> str:
    return f"enqueue-run-{run_id}"


def enqueue_run_job(queue: Queue, run_id: int) -> Job:
    """The job that enqueues a recorded run's chains, at the front (its chains queue behind it)."""
    return queue.enqueue(
        "backfill.jobs.enqueue_run", args=(run_id,), job_id=enqueue_run_job_id(run_id), at_front=True,
        job_timeout=settings.BACKFILL_TIMEOUTS["analyze"], result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
        description=f"backfill: enqueue the chains of run {run_id}",
    )


def recover_abandoned(queue: Queue) -> None:
    """Move jobs of dead workers (heartbeat expired) out of 'started', so a new run can redo them.

    The timer death penalty lets this run outside the main thread (an admin request); a failure
    here only delays recovery to the workers' own maintenance, so it is logged, not raised.
    """
    try:
        StartedJobRegistry(queue=queue, death_penalty_class=TimerDeathPenalty).cleanup()
    except Exception:
        logger.exception("could not clean up abandoned jobs")


def fetch_statuses(queue: Queue, ids: Iterable[str]) -> dict[str, str | None]:
    """Status of every job id in one Redis round trip (None: the job does not exist)."""
    ids = list(ids)
    with queue.connection.pipeline(transaction=False) as pipe:
        for jid in ids:
            pipe.hget(Job.key_for(jid), "status")
        raw = pipe.execute()
    return {jid: (value.decode() if value else None) for jid, value in zip(ids, raw, strict=True)}


def failure_reason(queue: Queue, jid: str) -> str:
    job = Job.fetch_many([jid], connection=queue.connection, serializer=queue.serializer)[0]
    if job is None:
        return "job vanished from Redis"
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"job {job.get_status(refresh=False)}"


def cancel_pending(queue: Queue, ids: Iterable[str]) -> list[str]:
    """Cancel queued, scheduled and deferred jobs; running ones are left to finish."""
    canceled = []
    for jid, status in fetch_statuses(queue, ids).items():
        if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            job = Job.fetch(jid, connection=queue.connection, serializer=queue.serializer)
            job.cancel()
            canceled.append(jid)
    return canceled
