"""RQ job functions: thin, take ids, re-read the database, return plain dicts."""

from datetime import datetime

from rq import get_current_job

from predictions import services

# Set in a job's meta by an enqueuer that retries the job while models failed (the backfill).
RETRIES_FAILED_MODELS = "retries_failed_models"


def predict_match(match_id: int, allow_retroactive: bool = False, now: str | None = None) -> dict:
    """Create the missing predictions; the per-model outcome (created, failed with reason, skipped).

    ``now`` (ISO 8601): a replayed clock, the writer's clock of the rows (see generate_predictions);
    left out, the real time is.
    """
    job = get_current_job()
    another_attempt = job is not None and bool(job.meta.get(RETRIES_FAILED_MODELS)) and bool(job.retries_left)
    return services.generate_predictions(
        match_id, allow_retroactive=allow_retroactive, count_failures=not another_attempt,
        now=datetime.fromisoformat(now) if now else None,
    ).as_dict()


def settle_match(match_id: int) -> dict:
    return services.settle_match(match_id).as_dict()
