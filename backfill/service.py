"""The backfill's public services in one namespace (kept for callers and tests that import it).

Each name lives in the module of its job under ``backfill/services/``; see
docs/architecture.md. New code may import from either place.
"""

from backfill.errors import BackfillError, EnqueueFailed, ServiceUnavailable
from backfill.services.plan import (
    API_REQUESTS_PER_ANALYSIS,
    MAX_DAYS,
    MIN_DAYS,
    BackfillPlan,
    plan_backfill,
    validate_days,
)
from backfill.services.progress import (
    UNFINISHED,
    failed_models_still_active,
    finalize_runs,
    record_predictions_of_a_retried_attempt,
    record_stage_failure,
    record_stage_success,
)
from backfill.services.reconcile import refresh_run
from backfill.services.report import match_labels, summarize_run
from backfill.services.runs import cancel_run, enqueue_run, retry_failed, retry_plan, start_backfill
from backfill.services.waiting import RECOVER_EVERY_SECONDS, wait_for_run
from backfill.services.worker import close_if_abandoned, resume_run, run_open_items, spawn_worker

__all__ = [
    "API_REQUESTS_PER_ANALYSIS",
    "MAX_DAYS",
    "MIN_DAYS",
    "RECOVER_EVERY_SECONDS",
    "UNFINISHED",
    "BackfillError",
    "BackfillPlan",
    "EnqueueFailed",
    "ServiceUnavailable",
    "cancel_run",
    "close_if_abandoned",
    "enqueue_run",
    "failed_models_still_active",
    "finalize_runs",
    "match_labels",
    "plan_backfill",
    "record_predictions_of_a_retried_attempt",
    "record_stage_failure",
    "record_stage_success",
    "refresh_run",
    "resume_run",
    "retry_failed",
    "retry_plan",
    "run_open_items",
    "spawn_worker",
    "start_backfill",
    "summarize_run",
    "validate_days",
    "wait_for_run",
]
