"""The plan: what is missing in a window and what filling it will cost; it changes nothing."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from backfill.errors import BackfillError
from backfill.models import BackfillItem
from backfill.selectors import MatchGap, SkippedMatch, find_gaps, find_skipped, window
from matches.models import Match
from predictions.models import PredictionModel

Stage = BackfillItem.Stage

MIN_DAYS, MAX_DAYS = 1, 365
# Worst case of the analysis' API top-up: league fixtures and head-to-head.
API_REQUESTS_PER_ANALYSIS = 2


def validate_days(days: object) -> int:
    """The window in days, from an int or an operator's text; BackfillError says the allowed range."""
    if isinstance(days, bool) or not isinstance(days, int):
        text = str(days).strip()
        # Plain ASCII digits only: int() would also take "1_0" or other scripts' digits.
        if not re.fullmatch(r"-?[0-9]+", text):
            raise BackfillError(f"--days must be an integer from {MIN_DAYS} to {MAX_DAYS}, got {days!r}")
        days = int(text)
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise BackfillError(f"--days must be an integer from {MIN_DAYS} to {MAX_DAYS}, got {days}")
    return days


@dataclass
class BackfillPlan:
    days: int
    window_start: datetime
    window_end: datetime
    match_ids: list[int] | None
    active_models: int
    gaps: list[MatchGap]
    skipped: list[SkippedMatch]
    llm_model_ids: frozenset[int] = field(default_factory=frozenset)
    # The writer's clock of the run's predictions when it is a replayed one (the chaos demo); None: real time.
    clock: datetime | None = None

    def count(self, stage: str) -> int:
        return sum(stage in g.stages for g in self.gaps)

    @property
    def estimate(self) -> dict[str, int]:
        return {
            "analyses": self.count(Stage.ANALYZE),
            "predictions": sum(len(g.missing_model_ids) for g in self.gaps),
            "settlements": self.count(Stage.SETTLE),
            # The analysis asks the API only for history our database lacks, and only with a key.
            "api_football_requests_max": (
                self.count(Stage.ANALYZE) * API_REQUESTS_PER_ANALYSIS if settings.API_FOOTBALL_KEY else 0
            ),
            "llm_calls": sum(len(self.llm_model_ids.intersection(g.missing_model_ids)) for g in self.gaps),
        }

    def gaps_by_status(self) -> dict[str, list[MatchGap]]:
        grouped: dict[str, list[MatchGap]] = {s: [] for s in ("finished", "live", "scheduled")}
        for gap in self.gaps:
            grouped[gap.status].append(gap)
        return grouped

    def as_dict(self) -> dict:
        return {
            "days": self.days,
            "window": [self.window_start.isoformat(), self.window_end.isoformat()],
            "match_ids": self.match_ids,
            "active_models": self.active_models,
            "estimate": self.estimate,
            "gaps": [
                {
                    "match_id": g.match_id,
                    "status": g.status,
                    "kickoff_time": g.kickoff_time.isoformat(),
                    "external_id": g.external_id,
                    "has_analysis": g.has_analysis,
                    "prediction_count": g.prediction_count,
                    "missing_model_ids": list(g.missing_model_ids),
                    "stages": list(g.stages),
                }
                for g in self.gaps
            ],
            "skipped": [
                {"match_id": s.match_id, "status": s.status, "kickoff_time": s.kickoff_time.isoformat(),
                 "reason": s.reason}
                for s in self.skipped
            ],
        }


def _checked_ids(match_ids: Sequence[int] | None) -> list[int] | None:
    if match_ids is None:
        return None
    ids = sorted({int(i) for i in match_ids})
    known = set(Match.objects.filter(pk__in=ids).values_list("pk", flat=True))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BackfillError(f"no match with id {', '.join(map(str, unknown))}")
    return ids


def plan_backfill(
    days: int | None = None, *, match_ids: Sequence[int] | None = None, now: datetime | None = None,
    clock: datetime | None = None,
) -> BackfillPlan:
    """What is missing and what it will cost; changes nothing.

    ``clock``: a replayed clock (the chaos demo): the window ends there unless ``now`` says otherwise,
    and the run's predictions are written by it (so they are flagged retroactive by the replayed
    kickoff). Without it, the run's jobs write by the real time.

    With ``match_ids`` and no ``days``, the window is the longest allowed, so an
    operator's explicit choice of matches is not silently cut by the default.
    """
    if days is None:
        days = MAX_DAYS if match_ids else settings.BACKFILL_DEFAULT_DAYS
    days = validate_days(days)
    now = now or clock or timezone.now()
    ids = _checked_ids(match_ids)
    start, end = window(days, now)
    gaps = find_gaps(days, now=now, match_ids=ids)
    skipped = find_skipped(days, now=now, match_ids=ids)
    if ids is not None:
        outside = Match.objects.filter(pk__in=ids).exclude(kickoff_time__gte=start, kickoff_time__lte=end)
        skipped += [
            SkippedMatch(m.pk, m.status, m.kickoff_time, f"kickoff outside the {days}-day window (or in the future)")
            for m in outside
        ]
    models = dict(PredictionModel.objects.filter(is_active=True).values_list("pk", "provider"))
    return BackfillPlan(
        days=days,
        window_start=start,
        window_end=end,
        match_ids=ids,
        active_models=len(models),
        gaps=gaps,
        skipped=skipped,
        llm_model_ids=frozenset(
            pk for pk, provider in models.items() if provider == PredictionModel.Provider.OPENAI_COMPATIBLE
        ),
        clock=clock,
    )
