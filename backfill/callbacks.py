"""RQ callbacks of the backfill's stage jobs; they run in the work horse (or in cleanup)."""

import logging

from rq import Queue
from rq.job import Job

from backfill import queueing
from backfill.models import BackfillItem
from backfill.services import progress

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage


class IncompletePredictions(Exception):
    """Raised from the success callback: RQ then counts the attempt as failed and retries the job
    with its backoff, and the retry asks only the models still missing."""


def stage_succeeded(job: Job, connection, result, *args, **kwargs) -> None:
    if job.meta["stage"] == Stage.PREDICT and job.retries_left:
        # predict_match keeps what succeeded and reports the rest; a model that failed (an LLM
        # outage) deserves the stage's retries before settlement runs over an incomplete set.
        # The last attempt settles what there is; a later run fills the rest and re-settles.
        failed = progress.failed_models_still_active(result)
        if failed:
            progress.record_predictions_of_a_retried_attempt(job.meta["match_id"], result)
            raise IncompletePredictions(
                f"{len(failed)} model(s) failed, asked again on the next attempt: "
                + "; ".join(f"{slug}: {reason}" for slug, reason in sorted(failed.items()))
            )
    # enqueued_at (aware UTC): a cancel after it may have closed this job's items while RQ ran it anyway.
    progress.record_stage_success(job.meta["match_id"], job.meta["stage"], result, enqueued_at=job.enqueued_at)


def stage_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """Final failure only: RQ also calls this for abandoned jobs that it is about to retry."""
    if job.retries_left:
        return
    match_id, stage = job.meta["match_id"], job.meta["stage"]
    # RQ leaves dependents of a failed job deferred forever; cancel them.
    later = Stage.later(stage)
    queueing.cancel_pending(
        Queue(job.origin, connection=connection), [queueing.job_id(s, match_id) for s in later]
    )
    reason = f"{exc_type.__name__}: {exc_value}" if exc_type else "failed"
    progress.record_stage_failure(match_id, stage, reason)
