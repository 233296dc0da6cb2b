"""The live jobs: ``analyze-{id}``, ``predict-{id}``, ``settle-{id}`` on queue ``default``, or in-process.

Idempotency layer one (PostgreSQL's unique constraints are layer two): a match's
live jobs are checked and written under the per-match lock the backfill takes
too (predictions.inflight). A live job already queued or running is left alone;
a match whose backfill jobs are queued or running is left to the backfill.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

import django_rq
from django.conf import settings
from django.utils.module_loading import import_string
from rq import Queue
from rq.job import Dependency, Job
from rq.results import Result

from predictions import inflight

logger = logging.getLogger(__name__)

QUEUE_NAME = "default"
STAGE_FUNCTIONS = {
    "analyze": "matches.jobs.analyze_match",
    "predict": "predictions.jobs.predict_match",
    "settle": "predictions.jobs.settle_match",
}
RESULT_TTL = 86400
FAILURE_TTL = 7 * 86400


@dataclass
class StageOutcome:
    """What the tick did with a match: enqueued, in_flight, backfill (held by it), done or failed."""

    state: str
    job_ids: list[str] = field(default_factory=list)
    detail: str = ""


def redis_enabled() -> bool:
    """False is the embedded default: no Redis, the same job functions run in-process."""
    return bool(settings.REDIS_URL)


def get_queue() -> Queue:
    return django_rq.get_queue(QUEUE_NAME)


def _kwargs(stage: str, as_of: datetime | None, clock: datetime | None = None) -> dict:
    # The analysis is as of the tick's clock (a replayed one too), never the worker's.
    if stage == "analyze" and as_of is not None:
        return {"as_of": as_of.isoformat()}
    # A tick given its clock (a replay) has its predictions written by that clock, not the worker's.
    if stage == "predict" and clock is not None:
        return {"now": clock.isoformat()}
    return {}


def enqueue(match_id: int, stages: list[str], *, as_of: datetime | None = None,
            clock: datetime | None = None) -> StageOutcome:
    """Enqueue the stages as one chain unless this match's live or backfill jobs are in flight."""
    queue = get_queue()
    conn = queue.connection
    with inflight.chain_lock(conn, match_id):
        if held := inflight.retro_jobs_pending(conn, match_id):
            return StageOutcome("backfill", list(held.values()), "the backfill's jobs are in flight")
        ids = {stage: inflight.live_job_id(stage, match_id) for stage in stages}
        statuses = inflight.job_statuses(conn, ids.values())
        pending = [jid for jid, status in statuses.items() if status in inflight.PENDING]
        if pending:
            return StageOutcome("in_flight", pending)
        for jid, status in statuses.items():
            if status is not None:  # a finished or dead earlier run of this stage: replaced
                Job.fetch(jid, connection=conn).delete(remove_from_queue=True)
                conn.delete(Result.get_key(jid))
        parent = None
        for stage in stages:
            parent = queue.enqueue(
                STAGE_FUNCTIONS[stage],
                args=(match_id,),
                kwargs=_kwargs(stage, as_of, clock),
                job_id=ids[stage],
                # A failed analysis must not leave the prediction deferred for good: it runs and says why.
                depends_on=Dependency(jobs=[parent], allow_failure=True) if parent is not None else None,
                job_timeout=settings.PIPELINE_TIMEOUTS[stage],
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                meta={"match_id": match_id, "stage": stage, "path": "live"},
                description=f"live {stage} match {match_id}",
            )
    logger.info("enqueued live jobs", extra={"match_id": match_id, "job_ids": list(ids.values())})
    return StageOutcome("enqueued", list(ids.values()))


def run_in_process(match_id: int, stages: list[str], *, as_of: datetime | None = None,
                   clock: datetime | None = None) -> StageOutcome:
    """The embedded default: the same job functions, synchronously, in chain order."""
    results = []
    for stage in stages:
        try:
            results.append(import_string(STAGE_FUNCTIONS[stage])(match_id, **_kwargs(stage, as_of, clock)))
        except Exception as exc:  # one match's failure must not stop the tick
            return StageOutcome("failed", detail=f"{stage}: {exc.__class__.__name__}: {exc}")
    failed = [slug for r in results for slug, m in r.get("models", {}).items() if m.get("status") == "failed"]
    if failed:
        return StageOutcome("failed", detail=f"models failed: {', '.join(sorted(failed))}")
    return StageOutcome("done")


def dispatch(match_id: int, stages: list[str], *, as_of: datetime | None = None,
             clock: datetime | None = None) -> StageOutcome:
    """``clock``: the tick's given clock (a replay's), passed to the predictions as the writer's clock."""
    if redis_enabled():
        return enqueue(match_id, stages, as_of=as_of, clock=clock)
    return run_in_process(match_id, stages, as_of=as_of, clock=clock)
