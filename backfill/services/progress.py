"""The item state machine: what a stage's success or failure does to the open items of its match.

Called by the RQ callbacks (backfill.callbacks) and by the in-process runner;
each transition runs under row locks, so a callback racing a reconcile or a
cancel leaves one consistent outcome.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from backfill.models import BackfillItem, BackfillRun
from predictions.models import PredictionModel

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage
UNFINISHED = (BackfillItem.Status.QUEUED, BackfillItem.Status.IN_FLIGHT, BackfillItem.Status.RUNNING)


def _open_items(match_id: int, run_id: int | None) -> list[BackfillItem]:
    qs = (
        BackfillItem.objects.select_for_update(of=("self",)).select_related("run")
        .filter(match_id=match_id, status__in=UNFINISHED)
    )
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    return list(qs.order_by("pk"))


def failed_models_still_active(predict_result: dict | None) -> dict[str, str]:
    """The models a predict job reported failed that are still active (the breaker has not tripped)."""
    models = (predict_result or {}).get("models", {})
    failed = {slug: r.get("reason", "") for slug, r in models.items() if r.get("status") == "failed"}
    if not failed:
        return {}
    active = set(PredictionModel.objects.filter(slug__in=failed, is_active=True).values_list("slug", flat=True))
    return {slug: reason for slug, reason in failed.items() if slug in active}


def record_predictions_of_a_retried_attempt(match_id: int, predict_result: dict | None) -> None:
    """Count what an attempt created before its job is retried (the next attempt reports only its own)."""
    created = int((predict_result or {}).get("created", 0))
    if created:
        BackfillItem.objects.filter(match_id=match_id, status__in=UNFINISHED).update(
            predictions_created=F("predictions_created") + created, updated_at=timezone.now()
        )


def _apply_result(item: BackfillItem, stage: str, result: dict) -> None:
    """Copy what the stage's job reported onto the item."""
    if stage == Stage.ANALYZE:
        item.analysis_created = bool(result.get("created"))
    elif stage == Stage.PREDICT:
        # += : an earlier attempt that is being retried may have created some already.
        item.predictions_created += int(result.get("created", 0))
        failed = {slug: r["reason"] for slug, r in result.get("models", {}).items() if r["status"] == "failed"}
        if failed:
            item.error = f"{len(failed)} model(s) failed: " + "; ".join(
                f"{slug}: {reason}" for slug, reason in sorted(failed.items())
            )
    elif stage == Stage.SETTLE:
        item.settled = result.get("outcome") in ("scored", "voided")


def _canceled_before(match_id: int, stage: str, since: datetime) -> list[BackfillItem]:
    """Items canceled before ``stage`` by a cancel that came after the stage's job was enqueued.

    RQ pops a job before it marks it started: a cancel in between finds it neither queued nor
    started, closes its item as canceled, and the job still runs. Its result is the database's truth.
    """
    return list(
        BackfillItem.objects.select_for_update(of=("self",)).select_related("run")
        .filter(match_id=match_id, status=BackfillItem.Status.CANCELED, stage=stage,
                run__status=BackfillRun.Status.CANCELED, run__finished_at__gte=since)
        .order_by("pk")
    )


def record_stage_success(
    match_id: int, stage: str, result: dict | None, *, run_id: int | None = None, enqueued_at: datetime | None = None
) -> None:
    """Called when a stage's job finished (an RQ success callback, or in-process).

    ``enqueued_at`` (RQ): when the job was enqueued; items that a cancel closed after it, before
    this stage, record the stage's result too.
    """
    with transaction.atomic():
        items = _open_items(match_id, run_id)
        if enqueued_at is not None:
            late = _canceled_before(match_id, stage, enqueued_at)
            for item in late:
                item.error = "" if item.error.startswith("canceled before") else item.error
            items = sorted([*items, *late], key=lambda i: i.pk)
        for item in items:
            _apply_result(item, stage, result or {})
            item.stage = Stage.next_of(item.stages, stage) if stage in item.stages else item.stage
            if item.stage == Stage.DONE:
                item.status = BackfillItem.Status.FAILED if item.error else BackfillItem.Status.SUCCEEDED
            elif item.run.status == BackfillRun.Status.CANCELED:
                # The run was canceled while this stage ran: what it made is recorded above, and the
                # next stage never starts (its job was canceled, or the in-process loop stops).
                item.status = BackfillItem.Status.CANCELED
                item.error = item.error or f"canceled before {item.stage} ({stage} had finished)"
            elif item.status != BackfillItem.Status.IN_FLIGHT:
                item.status = BackfillItem.Status.RUNNING
        BackfillItem.objects.bulk_update(
            items, ["analysis_created", "predictions_created", "settled", "error", "stage", "status", "updated_at"]
        )
    logger.info("stage succeeded", extra={"match_id": match_id, "stage": stage})
    finalize_runs({i.run_id for i in items})


def record_stage_failure(match_id: int, stage: str, reason: str, *, run_id: int | None = None) -> None:
    """Called when a stage's job failed for good: its open items fail at that stage with the reason."""
    with transaction.atomic():
        items = _open_items(match_id, run_id)
        for item in items:
            item.stage = stage
            item.status = BackfillItem.Status.FAILED
            item.error = reason[:4000]
        BackfillItem.objects.bulk_update(items, ["stage", "status", "error", "updated_at"])
    logger.warning("stage failed", extra={"match_id": match_id, "stage": stage, "error": reason})
    finalize_runs({i.run_id for i in items})


def finalize_runs(run_ids: Iterable[int]) -> None:
    """Close runs whose items have all finished (a conditional UPDATE: closing twice is harmless)."""
    for run in BackfillRun.objects.filter(pk__in=list(run_ids), status=BackfillRun.Status.RUNNING):
        if run.items.filter(status__in=UNFINISHED).exists():
            continue
        failed = run.items.filter(status__in=(BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED)).exists()
        BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
            status=BackfillRun.Status.FAILED if failed else BackfillRun.Status.SUCCEEDED, finished_at=timezone.now()
        )


def close_canceled(run_ids: Iterable[int]) -> int:
    """Close the open items of canceled runs that no running stage will close any more."""
    return BackfillItem.objects.filter(
        run_id__in=list(run_ids), run__status=BackfillRun.Status.CANCELED, status__in=UNFINISHED
    ).update(
        status=BackfillItem.Status.CANCELED,
        error=Case(When(error="", then=Concat(Value("canceled before "), F("stage"))), default=F("error"),
                   output_field=TextField()),
        updated_at=timezone.now(),
    )
