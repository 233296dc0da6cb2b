"""RQ callbacks of the backfill's stage jobs; they run in the work horse (or in cleanup)."""

import logging

from rq import Queue
from rq.job import Job

from backfill import queueing, service
from backfill.selectors import Stage

logger = logging.getLogger(__name__)


def stage_succeeded(job: Job, connection, result, *args, **kwargs) -> None:
    service.record_stage_success(job.meta["match_id"], job.meta["stage"], result)


def stage_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """Final failure only: RQ also calls this for abandoned jobs that it is about to retry."""
    if job.retries_left:
        return
    match_id, stage = job.meta["match_id"], job.meta["stage"]
    # RQ leaves dependents of a failed job deferred forever; cancel them.
    later = Stage.ORDER[Stage.ORDER.index(stage) + 1:]
    queueing.cancel_pending(
        Queue(job.origin, connection=connection), [queueing.job_id(s, match_id) for s in later]
    )
    reason = f"{exc_type.__name__}: {exc_value}" if exc_type else "failed"
    service.record_stage_failure(match_id, stage, reason)
