"""Starting, canceling and retrying runs: record the run and its items, then enqueue or run in-process."""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from backfill import queueing
from backfill.errors import EnqueueFailed, ServiceUnavailable
from backfill.models import BackfillItem, BackfillRun
from backfill.services.plan import BackfillPlan, plan_backfill
from backfill.services.progress import UNFINISHED, finalize_runs, record_stage_failure, record_stage_success
from backfill.services.reconcile import refresh_run

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage


def _record_run(plan: BackfillPlan, triggered_by: str, user) -> tuple[BackfillRun, list[BackfillItem]]:
    with transaction.atomic():
        run = BackfillRun.objects.create(
            triggered_by=triggered_by,
            user=user,
            days=plan.days,
            window_start=plan.window_start,
            window_end=plan.window_end,
            requested_match_ids=plan.match_ids or [],
            status=BackfillRun.Status.RUNNING,
            plan={"estimate": plan.estimate, "skipped": plan.as_dict()["skipped"],
                  "active_models": plan.active_models},
        )
        items = BackfillItem.objects.bulk_create(
            BackfillItem(
                run=run,
                match_id=gap.match_id,
                stages=list(gap.stages),
                stage=gap.stages[0],
                missing_models=len(gap.missing_model_ids),
            )
            for gap in plan.gaps
            if gap.stages
        )
    return run, items


def start_backfill(plan: BackfillPlan, triggered_by: str, *, user=None) -> BackfillRun:
    """Record the run and its items, then enqueue a chain per gap (or run them in-process)."""
    if queueing.redis_enabled():
        queueing.check_connection()
    run, items = _record_run(plan, triggered_by, user)
    logger.info(
        "backfill run started",
        extra={"run_id": run.pk, "match_ids": [i.match_id for i in items], "by": triggered_by},
    )
    if not items:
        finalize_runs([run.pk])
    elif queueing.redis_enabled():
        _enqueue(run, items, plan.clock)
    else:
        _run_in_process(items, plan.clock)
    run.refresh_from_db()
    return run


def _mark_reused(run: BackfillRun, item: BackfillItem, outcome: queueing.ChainOutcome) -> None:
    logger.info("chain already in flight", extra={"match_id": item.match_id, "run_id": run.pk})
    BackfillItem.objects.filter(pk=item.pk, status=BackfillItem.Status.QUEUED).update(
        status=BackfillItem.Status.IN_FLIGHT, stage=Stage.in_order(outcome.job_ids)[0]
    )
    if outcome.missing:
        # The reused chain may already have closed the item: it did not do everything asked.
        BackfillItem.objects.filter(pk=item.pk).update(
            error=f"an earlier chain in flight does not run {', '.join(outcome.missing)}; "
            "run the backfill again once it has finished",
            status=Case(
                When(status=BackfillItem.Status.SUCCEEDED, then=Value(BackfillItem.Status.FAILED)),
                default=F("status"),
            ),
        )


def _enqueue(run: BackfillRun, items: list[BackfillItem], clock: datetime | None = None) -> None:
    """Enqueue item by item; each write touches only what callbacks never write, so a chain
    finishing while later ones are still being enqueued keeps its outcome."""
    queue = queueing.get_queue()
    queueing.recover_abandoned(queue)
    try:
        for item in items:
            outcome = queueing.enqueue_chain(queue, item.match_id, item.stages, clock=clock)
            BackfillItem.objects.filter(pk=item.pk).update(job_ids=outcome.job_ids, reused=outcome.state == "in_flight")
            if outcome.state == "in_flight":
                _mark_reused(run, item, outcome)
        finalize_runs([run.pk])
    except Exception as exc:
        BackfillItem.objects.filter(run=run, job_ids={}).update(
            status=BackfillItem.Status.FAILED, error=f"not enqueued: {exc.__class__.__name__}: {exc}"
        )
        finalize_runs([run.pk])
        error = ServiceUnavailable if isinstance(exc, RedisError) else EnqueueFailed
        raise error(f"enqueueing run {run.pk} failed: {exc.__class__.__name__}: {exc}") from exc


def _run_in_process(items: list[BackfillItem], clock: datetime | None = None) -> None:
    """The embedded default: the same job functions, synchronously, in chain order."""
    for item in items:
        for stage in item.stages:
            kwargs = queueing.stage_kwargs(stage, clock)
            try:
                result = import_string(queueing.STAGE_FUNCTIONS[stage])(item.match_id, **kwargs)
            except Exception as exc:
                record_stage_failure(item.match_id, stage, f"{exc.__class__.__name__}: {exc}", run_id=item.run_id)
                break
            # Every open item of the match, as the RQ callbacks do: a run whose process was killed
            # mid-way is closed by the run that completes its matches, not left 'running' for good.
            record_stage_success(item.match_id, stage, result)


def cancel_run(run: BackfillRun) -> int:
    """Cancel the run's queued jobs; running ones finish. Returns the number of jobs canceled."""
    BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
        status=BackfillRun.Status.CANCELED, finished_at=timezone.now()
    )
    canceled = []
    if queueing.redis_enabled():
        # Chains reused from another run are that run's to cancel.
        ids = [jid for item in run.items.filter(status__in=UNFINISHED, reused=False) for jid in item.job_ids.values()]
        canceled = queueing.cancel_pending(queueing.get_queue(), ids)
    # Close every open item now: a job already running finishes, but the run is over, so its callback
    # must not reopen the item (nothing would ever close it again).
    run.items.filter(status__in=UNFINISHED).update(
        status=BackfillItem.Status.CANCELED,
        error=Case(When(error="", then=Value("canceled (a job already running finishes on its own)")),
                   default=F("error"), output_field=TextField()),
        updated_at=timezone.now(),
    )
    refresh_run(run)
    logger.info("backfill run canceled", extra={"run_id": run.pk, "jobs_canceled": len(canceled)})
    return len(canceled)


def retry_failed(run: BackfillRun, triggered_by: str, *, user=None) -> BackfillRun | None:
    """A new run over the failed or canceled matches of ``run`` (only what is still missing)."""
    match_ids = list(
        run.items.filter(Q(status=BackfillItem.Status.FAILED) | Q(status=BackfillItem.Status.CANCELED))
        .values_list("match_id", flat=True)
    )
    if not match_ids:
        return None
    return start_backfill(plan_backfill(match_ids=match_ids), triggered_by, user=user)
