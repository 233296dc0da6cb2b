"""What the admin's run page and confirmation page show: progress per stage, skips by reason, one page of items.

Reads only. Built to stay fast on a 5,000-item run: the counts come from one
narrow query, and only one page of items is loaded with its matches.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet

from backfill.models import BackfillItem, BackfillRun
from matches.models import Match

Stage = BackfillItem.Stage
ITEMS_PER_PAGE = 100
# Per reason, the matches listed inside its <details>; the rest are counted.
SKIPS_LISTED_PER_REASON = 200


@dataclass
class StageProgress:
    stage: str
    label: str
    needed: int
    done: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.needed) if self.needed else 100


@dataclass
class RunProgress:
    total: int
    finished: int
    by_status: dict[str, int]
    stages: list[StageProgress]

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


@dataclass
class SkipGroup:
    reason: str
    count: int
    matches: list[dict] = field(default_factory=list)

    @property
    def not_listed(self) -> int:
        return self.count - len(self.matches)


def _passed(stage: str, item_stage: str) -> bool:
    return item_stage == Stage.DONE or (item_stage in Stage.ORDER and Stage.rank(item_stage) > Stage.rank(stage))


def run_progress(run: BackfillRun) -> RunProgress:
    """Items finished, by status, and per stage how many need it and how many are past it.

    One GROUP BY: a 5,000-item run has a handful of (stages, stage, status) combinations.
    """
    rows = list(run.items.order_by().values_list("stages", "stage", "status").annotate(n=Count("pk")))
    labels = dict(Stage.choices)
    stages = [StageProgress(s, labels[s], 0, 0) for s in Stage.ORDER]
    by_status: Counter[str] = Counter()
    for needed, at, status, n in rows:
        by_status[status] += n
        for progress in stages:
            if progress.stage in needed:
                progress.needed += n
                progress.done += n * _passed(progress.stage, at)
    finished = sum(by_status[s] for s in (BackfillItem.Status.SUCCEEDED, BackfillItem.Status.FAILED,
                                          BackfillItem.Status.CANCELED))
    ordered = {value: by_status[value] for value, _ in BackfillItem.Status.choices if by_status[value]}
    return RunProgress(total=sum(by_status.values()), finished=finished, by_status=ordered, stages=stages)


def skip_groups(skipped: Iterable[dict]) -> list[SkipGroup]:
    """Skipped matches by reason, most frequent first, each listing its first matches."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for skip in skipped:
        grouped[skip["reason"]].append(skip)
    groups = [
        SkipGroup(reason, len(matches), matches[:SKIPS_LISTED_PER_REASON]) for reason, matches in grouped.items()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.reason))


def _items(run: BackfillRun) -> QuerySet[BackfillItem]:
    return (
        run.items.select_related("match__home_team", "match__away_team", "match__competition")
        .only("run", "match", "stages", "stage", "status", "reused", "predictions_created", "analysis_created",
              "settled", "error",
              "match__kickoff_time", "match__status", "match__home_team__name", "match__away_team__name",
              "match__competition__name", "match__competition__code", "match__competition__season",
              "match__home_score", "match__away_score")
        .order_by("match__kickoff_time", "pk")
    )


def item_page(run: BackfillRun, page_number: object) -> Page:
    """One page of the run's items with their matches (each item once, kickoff order)."""
    return Paginator(_items(run), ITEMS_PER_PAGE).get_page(page_number)


@dataclass
class PlanRow:
    gap: object
    home: str
    away: str
    competition: str


# The confirmation page lists this many matches that will run; the rest are counted (the estimate covers all).
PLAN_ROWS_SHOWN = 1000


def plan_rows(gaps_by_status: dict[str, list]) -> list[PlanRow]:
    """The plan's gaps (finished first) with their match names and competition, in one query."""
    gaps = [gap for group in gaps_by_status.values() for gap in group][:PLAN_ROWS_SHOWN]
    names = {
        pk: (home, away, f"{comp} {season}-{(season + 1) % 100:02d}")
        for pk, home, away, comp, season in Match.objects.filter(pk__in=[g.match_id for g in gaps]).values_list(
            "pk", "home_team__name", "away_team__name", "competition__name", "competition__season"
        )
    }
    return [PlanRow(gap, *names.get(gap.match_id, ("?", "?", "?"))) for gap in gaps]
