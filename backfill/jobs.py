"""The scheduled entry point: plan and start a backfill, without waiting for it."""

from backfill import service


def scheduled_backfill(days: int = 7) -> dict:
    plan = service.plan_backfill(days)
    run = service.start_backfill(plan, triggered_by="cron")
    return {"run_id": run.pk, "gaps": len(plan.gaps), "skipped": len(plan.skipped)}
