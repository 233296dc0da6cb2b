"""RQ job functions: thin, take ids, re-read the database, return plain dicts."""

from rq import get_current_job

from predictions import services

# Set in a job's meta by an enqueuer that retries the job while models failed (the backfill).
RETRIES_FAILED_MODELS = "retries_failed_models"


def predict_match(match_id: int, allow_retroactive: bool = False) -> dict:
    """Create the missing predictions; the per-model outcome (created, failed with reason, skipped)."""
    job = get_current_job()
    another_attempt = job is not None and bool(job.meta.get(RETRIES_FAILED_MODELS)) and bool(job.retries_left)
    return services.generate_predictions(
        match_id, allow_retroactive=allow_retroactive, count_failures=not another_attempt
    ).as_dict()


def settle_match(match_id: int) -> dict:
    return services.settle_match(match_id).as_dict()
