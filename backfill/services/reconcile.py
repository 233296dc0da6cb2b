"""Reconciling open items with their jobs in Redis: what callbacks cannot see.

A worker killed outright runs no callback, and a job canceled from the
dashboard runs none either; one Redis round trip per refresh catches both.
"""

from rq import Queue

from backfill import queueing
from backfill.models import BackfillItem, BackfillRun
from backfill.services.progress import UNFINISHED, finalize_runs, record_stage_failure

Stage = BackfillItem.Stage


def refresh_run(run: BackfillRun) -> BackfillRun:
    """Reconcile the run's open items with their jobs' states: one Redis round trip.

    Callbacks keep items current; this catches what callbacks cannot see (a
    worker killed outright, a job canceled from the dashboard).
    """
    items = list(run.items.filter(status__in=UNFINISHED))
    if items and queueing.redis_enabled():
        queue = queueing.get_queue()
        statuses = queueing.fetch_statuses(queue, [jid for i in items for jid in i.job_ids.values()])
        for item in items:
            _reconcile(queue, item, statuses)
        if any(not i.job_ids for i in items):
            _fail_if_enqueue_job_died(queue, run)
    finalize_runs([run.pk])
    run.refresh_from_db()
    return run


def _fail_if_enqueue_job_died(queue: Queue, run: BackfillRun) -> None:
    """Items the admin's enqueue job never reached, when that job died (no job: a synchronous
    enqueuer, still at work, has them)."""
    jid = queueing.enqueue_run_job_id(run.pk)
    status = queueing.fetch_statuses(queue, [jid])[jid]
    if status in queueing.DEAD:
        run.items.filter(status__in=UNFINISHED, job_ids={}).update(
            status=BackfillItem.Status.FAILED,
            error=f"not enqueued: the enqueue job {status}: {queueing.failure_reason(queue, jid)}",
        )


def _close_dead_stage(queue: Queue, item: BackfillItem, stage: str, jid: str, status: str | None) -> None:
    reason = "job vanished from Redis" if status is None else queueing.failure_reason(queue, jid)
    if status == "canceled":
        BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(
            status=BackfillItem.Status.CANCELED, stage=stage, error="canceled"
        )
    else:
        record_stage_failure(item.match_id, stage, f"{stage} job {status or 'missing'}: {reason}", run_id=item.run_id)


def _reconcile(queue: Queue, item: BackfillItem, statuses: dict[str, str | None]) -> None:
    if not item.job_ids:
        # Not enqueued (yet, or its enqueuer died): a later run's chain for this match closes it.
        return
    for stage in Stage.in_order(item.job_ids):
        jid = item.job_ids[stage]
        status = statuses.get(jid)
        if status in queueing.DEAD or status is None:
            _close_dead_stage(queue, item, stage, jid, status)
            return
        if status != "finished":
            new_status = item.status
            if status == "started" and item.status == BackfillItem.Status.QUEUED:
                new_status = BackfillItem.Status.RUNNING
            if (item.stage, item.status) != (stage, new_status):
                BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(stage=stage, status=new_status)
            return
    # Every job finished but no callback closed the item (e.g. a callback's write failed).
    BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(
        stage=Stage.DONE,
        status=BackfillItem.Status.FAILED if item.error else BackfillItem.Status.SUCCEEDED,
    )

