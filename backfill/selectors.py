"""Finding gaps: matches of a window with fewer predictions than active models, or unsettled."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Aggregate,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone

from backfill.models import BackfillItem
from matches.models import Match, MatchAnalysis
from predictions.models import Prediction
from predictions.selectors import active_model_count_subquery, active_models

ELIGIBLE = (Match.Status.SCHEDULED, Match.Status.LIVE, Match.Status.FINISHED)
# The one Stage vocabulary lives on the model; this name stays for callers that import it from here.
Stage = BackfillItem.Stage


class IdList(Aggregate):
    """Comma-separated ids, so the missing models travel in the gap query itself."""

    function = "STRING_AGG"
    template = "%(function)s(CAST(%(expressions)s AS TEXT), ',')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="GROUP_CONCAT", template="%(function)s(%(expressions)s)")


@dataclass(frozen=True)
class MatchGap:
    match_id: int
    status: str
    kickoff_time: datetime
    external_id: int | None
    home_score: int | None
    away_score: int | None
    has_analysis: bool
    prediction_count: int
    missing_model_ids: tuple[int, ...]
    has_unsettled: bool = False

    @property
    def has_score(self) -> bool:
        return self.home_score is not None and self.away_score is not None

    @property
    def settleable(self) -> bool:
        return self.status == Match.Status.FINISHED and self.has_score

    @property
    def stages(self) -> tuple[str, ...]:
        """What this match needs, in chain order."""
        stages = []
        if self.missing_model_ids:
            if not self.has_analysis:
                stages.append(Stage.ANALYZE)
            stages.append(Stage.PREDICT)
        if self.settleable and (self.missing_model_ids or self.has_unsettled):
            stages.append(Stage.SETTLE)
        return tuple(stages)


@dataclass(frozen=True)
class SkippedMatch:
    match_id: int
    status: str
    kickoff_time: datetime
    reason: str


def window(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    end = now or timezone.now()
    return end - timedelta(days=days), end


def _in_window(days: int, now: datetime | None, match_ids: Iterable[int] | None) -> QuerySet[Match]:
    start, end = window(days, now)
    qs = Match.objects.filter(kickoff_time__gte=start, kickoff_time__lte=end)
    if match_ids is not None:
        qs = qs.filter(pk__in=list(match_ids))
    return qs


def gap_queryset(days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None) -> QuerySet[Match]:
    active = active_models()
    missing_ids = Subquery(
        active.filter(~Exists(Prediction.objects.filter(match_id=OuterRef(OuterRef("pk")), model_id=OuterRef("pk"))))
        .order_by()
        .annotate(one=Value(1))
        .values("one")
        .annotate(ids=IdList("pk"))
        .values("ids")[:1],
        output_field=CharField(),
    )
    unsettled = Exists(Prediction.objects.filter(match_id=OuterRef("pk")).exclude(status=Prediction.Status.SCORED))
    return (
        _in_window(days, now, match_ids)
        .filter(status__in=ELIGIBLE, external_id__isnull=False)
        .annotate(
            prediction_count=Count("predictions", filter=Q(predictions__model__is_active=True), distinct=True),
            active_count=active_model_count_subquery(),
            # Any version as of no later than kickoff is valid (analysis lineage).
            has_analysis=Exists(
                MatchAnalysis.objects.filter(match_id=OuterRef("pk"), as_of__lte=OuterRef("kickoff_time"))
            ),
            has_unsettled=unsettled,
            missing_ids=missing_ids,
        )
        .filter(
            Q(prediction_count__lt=F("active_count"))
            | Q(
                status=Match.Status.FINISHED,
                home_score__isnull=False,
                away_score__isnull=False,
                has_unsettled=True,
            )
        )
        .order_by("kickoff_time", "pk")
    )


def find_gaps(days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None) -> list[MatchGap]:
    """Every gap of the window, in one SQL query whatever the number of matches."""
    rows = gap_queryset(days, now, match_ids).values_list(
        "pk", "status", "kickoff_time", "external_id", "home_score", "away_score", "has_analysis",
        "prediction_count", "missing_ids", "has_unsettled",
    )
    return [
        MatchGap(
            match_id=pk,
            status=status,
            kickoff_time=kickoff,
            external_id=external_id,
            home_score=home,
            away_score=away,
            has_analysis=has_analysis,
            prediction_count=count,
            missing_model_ids=_parse_ids(missing),
            has_unsettled=unsettled,
        )
        for pk, status, kickoff, external_id, home, away, has_analysis, count, missing, unsettled in rows
    ]


def _parse_ids(text: str | None) -> tuple[int, ...]:
    return tuple(sorted(int(x) for x in text.split(","))) if text else ()


def find_skipped(
    days: int, now: datetime | None = None, match_ids: Sequence[int] | None = None
) -> list[SkippedMatch]:
    """Matches of the window the backfill never processes, each with the reason."""
    skipped = []
    in_window = _in_window(days, now, match_ids)
    rows = (
        (in_window.called_off() | in_window.filter(external_id__isnull=True))
        .order_by("kickoff_time", "pk")
        .values_list("pk", "status", "kickoff_time")
    )
    for pk, status, kickoff in rows:
        if status in Match.CALLED_OFF:
            reason = f"match is {status}; it is never predicted or settled"
        else:
            reason = "match has no API-Football fixture id"
        skipped.append(SkippedMatch(pk, status, kickoff, reason))
    return skipped
