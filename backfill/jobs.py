"""RQ entry points of the backfill: the daily schedule, and enqueueing a run the admin started."""

from backfill import service


def scheduled_backfill(days: int = 7) -> dict:
    plan = service.plan_backfill(days)
    run = service.start_backfill(plan, triggered_by="cron")
    return {"run_id": run.pk, "gaps": len(plan.gaps), "skipped": len(plan.skipped)}


def enqueue_run(run_id: int) -> dict[str, int]:
    """Enqueue the chains of a run recorded by the admin (a worker does it, not the request)."""
    return service.enqueue_run(run_id=run_id)
