"""What a run did, as a dict the command prints, writes to its report and returns as JSON."""

from backfill.models import BackfillItem, BackfillRun


def summarize_run(run: BackfillRun) -> dict:
    items = list(run.items.select_related("match__home_team", "match__away_team").order_by("match__kickoff_time"))
    fresh = [i for i in items if not i.reused]
    return {
        "run_id": run.pk,
        "status": run.status,
        "triggered_by": run.triggered_by,
        "window": [run.window_start.isoformat() if run.window_start else None,
                   run.window_end.isoformat() if run.window_end else None],
        "matches_found": len(items),
        "analyses_created": sum(i.analysis_created for i in fresh),
        "predictions_created": sum(i.predictions_created for i in fresh),
        "settlements": sum(i.settled for i in fresh),
        "already_in_flight": sum(i.reused for i in items),
        "succeeded": sum(i.status == BackfillItem.Status.SUCCEEDED for i in items),
        "skipped": run.plan.get("skipped", []),
        "errors": [
            {"match_id": i.match_id, "match": str(i.match), "stage": i.stage, "reason": i.error}
            for i in items
            if i.status in (BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED)
        ],
        "items": [
            {"match_id": i.match_id, "stages": i.stages, "stage": i.stage, "status": i.status,
             "job_ids": i.job_ids, "reused": i.reused, "predictions_created": i.predictions_created, "error": i.error}
            for i in items
        ],
    }
