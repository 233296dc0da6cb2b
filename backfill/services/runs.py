"""Starting, canceling and retrying runs: record the run and its items, then enqueue or run in-process."""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from redis.exceptions import RedisError

from backfill import queueing
from backfill.errors import EnqueueFailed, ServiceUnavailable
from backfill.models import BackfillItem, BackfillRun
from backfill.services import worker
from backfill.services.plan import BackfillPlan, plan_backfill
from backfill.services.progress import UNFINISHED, finalize_runs
from backfill.services.reconcile import refresh_run

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage


def _record_run(
    plan: BackfillPlan, triggered_by: str, user, *, in_process: bool
) -> tuple[BackfillRun, list[BackfillItem]]:
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
            # In-process runs are beaten by the process that runs them; RQ runs have no beat.
            heartbeat_at=timezone.now() if in_process else None,
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


def start_backfill(plan: BackfillPlan, triggered_by: str, *, user=None, background: bool = False) -> BackfillRun:
    """Record the run and its items, then enqueue a chain per gap, or run them in-process.

    In-process, ``background=True`` (the admin) hands the items to a detached process and returns
    at once; otherwise (the command, the cron) they run here before this returns.
    """
    if queueing.redis_enabled():
        queueing.check_connection()
    run, items = _record_run(plan, triggered_by, user, in_process=not queueing.redis_enabled())
    logger.info(
        "backfill run started",
        extra={"run_id": run.pk, "match_ids": [i.match_id for i in items], "by": triggered_by},
    )
    if not items:
        finalize_runs([run.pk])
    elif queueing.redis_enabled() and background:
        _enqueue_later(run)
    elif queueing.redis_enabled():
        _enqueue(run, items, plan.clock)
    elif background:
        _spawn(run)
    else:
        worker.run_open_items(run_id=run.pk, clock=plan.clock)
    run.refresh_from_db()
    return run


def _enqueue_later(run: BackfillRun) -> None:
    """One job that enqueues the run's chains (``enqueue_run``): enqueueing hundreds of chains takes
    longer than a request should, so a worker does it, ahead of the queue."""
    try:
        queueing.enqueue_run_job(queueing.get_queue(), run.pk)
    except RedisError as exc:
        run.items.filter(status__in=UNFINISHED).update(
            status=BackfillItem.Status.FAILED, error=f"not enqueued: {exc.__class__.__name__}: {exc}"
        )
        finalize_runs([run.pk])
        raise ServiceUnavailable(f"enqueueing run {run.pk} failed: {exc.__class__.__name__}: {exc}") from exc


def enqueue_run(*, run_id: int) -> dict[str, int]:
    """Enqueue the chains of a recorded run's items not enqueued yet (the job behind the admin's start)."""
    run = BackfillRun.objects.get(pk=run_id)
    items = list(run.items.filter(status=BackfillItem.Status.QUEUED, job_ids={}).order_by("match__kickoff_time"))
    _enqueue(run, items)
    return {"run_id": run_id, "items": len(items)}


def _spawn(run: BackfillRun) -> None:
    try:
        worker.spawn_worker(run)
    except OSError as exc:
        run.items.filter(status__in=UNFINISHED).update(
            status=BackfillItem.Status.FAILED, error=f"not started: {exc.__class__.__name__}: {exc}"
        )
        finalize_runs([run.pk])
        raise EnqueueFailed(f"starting run {run.pk} in the background failed: {exc.__class__.__name__}: {exc}") from exc


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
            if not BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).exists():
                break  # canceled meanwhile: enqueue nothing more (cancel closed the rest)
            outcome = queueing.enqueue_chain(queue, item.match_id, item.stages, clock=clock)
            BackfillItem.objects.filter(pk=item.pk).update(job_ids=outcome.job_ids, reused=outcome.state == "in_flight")
            if outcome.state == "in_flight":
                _mark_reused(run, item, outcome)
            elif not BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).exists():
                # A cancel closed the item between the check and the enqueue: its jobs must not run.
                queueing.cancel_pending(queue, outcome.job_ids.values())
        finalize_runs([run.pk])
    except Exception as exc:
        BackfillItem.objects.filter(run=run, job_ids={}, status__in=UNFINISHED).update(
            status=BackfillItem.Status.FAILED, error=f"not enqueued: {exc.__class__.__name__}: {exc}"
        )
        finalize_runs([run.pk])
        error = ServiceUnavailable if isinstance(exc, RedisError) else EnqueueFailed
        raise error(f"enqueueing run {run.pk} failed: {exc.__class__.__name__}: {exc}") from exc


def _started_items(run: BackfillRun, items: list[BackfillItem]) -> set[int]:
    """The items with a stage running right now: that stage finishes, and its result counts."""
    if queueing.redis_enabled():
        statuses = queueing.fetch_statuses(queueing.get_queue(), [j for i in items for j in i.job_ids.values()])
        return {i.pk for i in items if any(statuses.get(j) == "started" for j in i.job_ids.values())}
    if run.is_interrupted(now=timezone.now()):
        return set()  # its process died: nothing is running any more
    # In-process, the loop marks the item it works on 'running' before each stage.
    return {i.pk for i in items if i.status == BackfillItem.Status.RUNNING}


def cancel_run(run: BackfillRun) -> int:
    """Stop the run: no new stage starts. Returns the number of queued jobs canceled (RQ).

    A stage already running finishes and its result is recorded (predictions made count); the
    in-process loop reads the run's status before every stage, and RQ's queued jobs are canceled.
    """
    if not BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
        status=BackfillRun.Status.CANCELED, finished_at=timezone.now()
    ):
        return 0
    canceled = []
    if queueing.redis_enabled():
        # Chains reused from another run are that run's to cancel.
        ids = [jid for item in run.items.filter(status__in=UNFINISHED, reused=False) for jid in item.job_ids.values()]
        # The admin's enqueue job too, if it has not started: then none of its chains is enqueued.
        canceled = queueing.cancel_pending(queueing.get_queue(), [queueing.enqueue_run_job_id(run.pk), *ids])
    with transaction.atomic():
        # In pk order, as the stage callbacks lock them (progress._open_items): no lock-order deadlock.
        items = list(run.items.select_for_update().filter(status__in=UNFINISHED).order_by("pk"))
        started = _started_items(run, [i for i in items if not i.reused])
        run.items.filter(pk__in=started).update(status=BackfillItem.Status.RUNNING)
        # Everything else stops here; a running stage's callback (or the loop) closes its item.
        run.items.filter(status__in=UNFINISHED).exclude(pk__in=started).update(
            status=BackfillItem.Status.CANCELED,
            error=Case(When(error="", then=Concat(Value("canceled before "), F("stage"))),
                       default=F("error"), output_field=TextField()),
            updated_at=timezone.now(),
        )
    if queueing.redis_enabled():
        refresh_run(run)
    logger.info("backfill run canceled", extra={"run_id": run.pk, "jobs_canceled": len(canceled),
                                                "stages_finishing": len(started)})
    return len(canceled)


def retry_plan(run: BackfillRun) -> BackfillPlan | None:
    """What is still missing among the failed or canceled matches of ``run`` (None: none failed)."""
    match_ids = list(
        run.items.filter(Q(status=BackfillItem.Status.FAILED) | Q(status=BackfillItem.Status.CANCELED))
        .values_list("match_id", flat=True)
    )
    return plan_backfill(match_ids=match_ids) if match_ids else None


def retry_failed(run: BackfillRun, triggered_by: str, *, user=None, background: bool = False) -> BackfillRun | None:
    """A new run over exactly what is still missing of the failed or canceled matches of ``run``.

    None when nothing is: no failed items, or they were completed since (say so, start nothing).
    """
    plan = retry_plan(run)
    if plan is None or not plan.gaps:
        return None
    return start_backfill(plan, triggered_by, user=user, background=background)
