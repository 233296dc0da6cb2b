"""Read-only views of backfill runs for ``backfill_status``: progress counts and the items, by name."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from backfill.models import BackfillItem, BackfillRun


@dataclass
class RunProgress:
    """A run as an operator reads it: who, when, how far, and what went wrong."""

    run_id: int
    status: str
    triggered_by: str
    created_at: str
    finished_at: str | None
    finished: bool
    total: int
    by_status: dict[str, int]
    by_stage: dict[str, int]
    skipped: int
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(n for status, n in self.by_status.items() if status in _FINISHED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "status": self.status, "finished": self.finished,
            "triggered_by": self.triggered_by, "created_at": self.created_at, "finished_at": self.finished_at,
            "total": self.total, "done": self.done, "by_status": self.by_status, "by_stage": self.by_stage,
            "skipped": self.skipped, "items": self.items,
        }


_FINISHED = {BackfillItem.Status.SUCCEEDED, BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED}


def run_progress(run: BackfillRun, *, item_limit: int | None = None) -> RunProgress:
    """Counts come from two grouped queries; items (by kickoff, failures first) are capped at ``item_limit``."""
    items = run.items.all()
    by_status = dict(items.order_by().values_list("status").annotate(n=Count("pk")))
    by_stage = dict(items.order_by().values_list("stage").annotate(n=Count("pk")))
    listed = items.select_related("match__home_team", "match__away_team", "match__competition").order_by(
        "match__kickoff_time", "pk"
    )
    if item_limit is not None:
        listed = listed[:item_limit]
    return RunProgress(
        run_id=run.pk,
        status=run.status,
        triggered_by=run.triggered_by,
        created_at=run.created_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        finished=run.is_finished,
        total=sum(by_status.values()),
        by_status={status: by_status.get(status, 0) for status in BackfillItem.Status.values},
        by_stage={stage: by_stage.get(stage, 0) for stage in BackfillItem.Stage.values},
        skipped=len(run.plan.get("skipped", [])),
        items=[_item(item) for item in listed],
    )


def _item(item: BackfillItem) -> dict[str, Any]:
    match = item.match
    return {
        "match_id": match.pk,
        "match": f"{match.home_team} v {match.away_team}",
        "kickoff": match.kickoff_time.isoformat(),
        "competition": str(match.competition),
        "stages": item.stages,
        "stage": item.stage,
        "status": item.status,
        "predictions_created": item.predictions_created,
        "error": item.error,
    }


def latest_runs(*, limit: int = 10) -> list[RunProgress]:
    """The newest runs first, counts only."""
    return [run_progress(run, item_limit=0) for run in BackfillRun.objects.order_by("-created_at", "-pk")[:limit]]
