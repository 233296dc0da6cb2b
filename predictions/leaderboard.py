"""The leaderboard selector: models ranked by points per settled match, and the contamination check.

Reads only matches and predictions. Whatever the number of predictions it
issues one aggregated query for the rows and one for the contamination
inputs (a histogram of points per model and kind), see ``ranking_stats``.

"Pre-kickoff" is ``Prediction.is_retroactive = False``: the writer decided it
with its clock against kickoff when the row was written (DESIGN.md). A second
check of ``created_at < kickoff_time`` is not added: ``created_at`` comes from
the same clock at the same write, so it could only disagree after a kickoff
was moved, and a postponed match moves kickoff later, never before a tip.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, IntegerField, Q, QuerySet, Subquery, Sum, Value
from django.utils import timezone

from matches.models import Competition, Match, Team
from predictions import ranking_stats
from predictions.models import Prediction, PredictionModel


class LeaderboardError(ValueError):
    """A filter that cannot be applied; the message says what to change."""


@dataclass(frozen=True)
class Scope:
    """The filters, exactly as applied (echoed in the output)."""

    competitions: tuple[str, ...] = ()
    team: str | None = None
    season: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    days: int | None = None
    min_predictions: int = 1
    include_retroactive: bool = False
    common: bool = False
    prompt_version: str | None = None

    def __post_init__(self) -> None:
        if self.days is not None and (self.date_from or self.date_to):
            raise LeaderboardError("use either --days or --from/--to, not both")
        if self.days is not None and self.days < 1:
            raise LeaderboardError(f"--days must be a positive number of days, got {self.days}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise LeaderboardError(f"--from {self.date_from} is after --to {self.date_to}")
        if self.min_predictions < 1:
            raise LeaderboardError(f"--min-predictions must be at least 1, got {self.min_predictions}")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["competitions"] = list(self.competitions)
        data["date_from"] = self.date_from.isoformat() if self.date_from else None
        data["date_to"] = self.date_to.isoformat() if self.date_to else None
        data["counted"] = "all settled predictions" if self.include_retroactive else "pre-kickoff predictions only"
        return data


@dataclass
class Leaderboard:
    rows: list[dict]
    contamination: list[dict]
    filters: dict
    coverage: dict
    message: str | None = None

    def as_dict(self) -> dict:
        data = {"rows": self.rows, "contamination": self.contamination, "filters": self.filters,
                "coverage": self.coverage}
        if self.message:
            data["message"] = self.message
        return data


EMPTY_MESSAGE = "no settled predictions in scope"


def parse_season(value: str) -> int:
    """'2024' or '2024-25' (the start year, as Competition.season stores it)."""
    found = re.fullmatch(r"(\d{4})(?:[-/](\d{2}|\d{4}))?", value.strip())
    if not found:
        raise LeaderboardError(f"--season must look like 2024 or 2024-25, got {value!r}")
    return int(found.group(1))


def check_names(scope: Scope) -> None:
    """Unknown competition codes or team names are typos, not empty scopes: say so (for entry points)."""
    if scope.competitions:
        known = set(Competition.objects.filter(code__in=scope.competitions).values_list("code", flat=True))
        missing = [c for c in scope.competitions if c not in known]
        if missing:
            raise LeaderboardError(f"unknown competition code {', '.join(missing)} (codes look like en.1)")
    if scope.team and not Team.objects.filter(name__iexact=scope.team).exists():
        raise LeaderboardError(f"no team named {scope.team!r}")


def match_filter(scope: Scope, *, now: datetime, prefix: str = "") -> Q:
    """The match side of the scope, as a Q on Match (prefix 'match__' from Prediction)."""
    q = Q()
    if scope.competitions:
        q &= Q(**{f"{prefix}competition__code__in": scope.competitions})
    if scope.season is not None:
        q &= Q(**{f"{prefix}competition__season": scope.season})
    if scope.team:
        home, away = f"{prefix}home_team__name__iexact", f"{prefix}away_team__name__iexact"
        q &= Q(**{home: scope.team}) | Q(**{away: scope.team})
    if scope.days is not None:
        q &= Q(**{f"{prefix}kickoff_time__gte": now - timedelta(days=scope.days), f"{prefix}kickoff_time__lte": now})
    tz = timezone.get_current_timezone()
    if scope.date_from:
        q &= Q(**{f"{prefix}kickoff_time__gte": datetime.combine(scope.date_from, time.min, tzinfo=tz)})
    if scope.date_to:
        end = datetime.combine(scope.date_to + timedelta(days=1), time.min, tzinfo=tz)
        q &= Q(**{f"{prefix}kickoff_time__lt": end})
    return q


def counted_q(scope: Scope) -> Q:
    return Q() if scope.include_retroactive else Q(is_retroactive=False)


def scoped_predictions(scope: Scope, *, now: datetime) -> QuerySet[Prediction]:
    """Settled predictions of matches in scope (both kinds; callers pick what counts)."""
    qs = Prediction.objects.filter(match_filter(scope, now=now, prefix="match__"), status=Prediction.Status.SCORED)
    if scope.prompt_version is not None:
        qs = qs.filter(prompt_version=scope.prompt_version)
    return qs.order_by()


def _common_restriction(scope: Scope, base: QuerySet[Prediction]) -> tuple[QuerySet, QuerySet]:
    """(listed models, matches every listed model predicted), as subqueries of the rows query."""
    counted = base.filter(counted_q(scope))
    listed = counted.values("model_id").annotate(n=Count("id")).filter(n__gte=scope.min_predictions).values("model_id")
    n_listed = (
        PredictionModel.objects.filter(pk__in=listed).order_by().annotate(one=Value(1)).values("one")
        .annotate(c=Count("pk")).values("c")
    )
    shared = (
        counted.filter(model_id__in=listed).values("match_id")
        .annotate(c=Count("model_id", distinct=True)).filter(c=Subquery(n_listed[:1])).values("match_id")
    )
    return listed, shared


def _matches_in_scope(scope: Scope, *, now: datetime, shared: QuerySet | None) -> Subquery:
    matches = Match.objects.filter(match_filter(scope, now=now), status=Match.Status.FINISHED)
    if shared is not None:
        matches = matches.filter(pk__in=shared)
    counted = matches.order_by().annotate(one=Value(1)).values("one").annotate(c=Count("pk")).values("c")
    return Subquery(counted[:1], output_field=IntegerField())


def _row_aggregates(scope: Scope, *, now: datetime) -> list[dict]:
    """The one aggregated query for the rows."""
    base = scoped_predictions(scope, now=now)
    shared = None
    if scope.common:
        listed, shared = _common_restriction(scope, base)
        base = base.filter(model_id__in=listed, match_id__in=shared)
    counted = counted_q(scope)
    excluded = Count("id", filter=Q(is_retroactive=True)) if not scope.include_retroactive else Value(0)
    return list(
        base.values("model_id", "model__slug", "model__name")
        .annotate(
            n=Count("id", filter=counted),
            points=Sum("total_points", filter=counted),
            sum_squares=Sum(F("total_points") * F("total_points"), filter=counted),
            exact=Count("id", filter=counted & Q(exact_score_bonus__gt=0)),
            tendency=Count("id", filter=counted & Q(tendency_points__gt=0)),
            pre_kickoff=Count("id", filter=Q(is_retroactive=False)),
            retroactive_excluded=excluded,
            matches_in_scope=_matches_in_scope(scope, now=now, shared=shared),
        )
        .filter(n__gte=scope.min_predictions)
    )


def _row(agg: dict) -> dict:
    n, points = agg["n"], agg["points"] or 0
    ci = ranking_stats.mean_ci(n=n, total=points, sum_squares=agg["sum_squares"] or 0)
    return {
        "model": agg["model__slug"],
        "name": agg["model__name"],
        "predictions": n,
        "points": points,
        "mean_points": points / n,
        "ci95": [ci[0], ci[1]] if ci else [None, None],
        "exact": agg["exact"],
        "tendency": agg["tendency"],
        "retroactive_excluded": agg["retroactive_excluded"],
        "flagged": False,
    }


def contamination(scope: Scope, *, now: datetime) -> list[dict]:
    """Per model with both kinds in scope: does retroactive score better than pre-kickoff? (one query)

    Mann-Whitney, one-sided, Holm-corrected over the models tested, flagged at
    p < 0.01. It uses the scope's match filters and prompt version, never
    --common or --min-predictions: a model is tested on everything it has.
    """
    histogram = (
        scoped_predictions(scope, now=now).values("model__slug", "is_retroactive", "total_points")
        .annotate(c=Count("id"))
    )
    per_model: dict[str, dict[bool, dict[int, int]]] = {}
    for entry in histogram:
        kinds = per_model.setdefault(entry["model__slug"], {True: {}, False: {}})
        kinds[entry["is_retroactive"]][entry["total_points"]] = entry["c"]
    tested = sorted(slug for slug, kinds in per_model.items() if kinds[True] and kinds[False])
    raw = [ranking_stats.mann_whitney_greater(per_model[s][True], per_model[s][False]) for s in tested]
    adjusted = ranking_stats.holm(raw)
    out = []
    for slug, p_raw, p_adj in zip(tested, raw, adjusted, strict=True):
        retro, pre = per_model[slug][True], per_model[slug][False]
        n_retro, n_pre = sum(retro.values()), sum(pre.values())
        out.append({
            "model": slug,
            "pre_kickoff": n_pre,
            "retroactive": n_retro,
            "mean_pre": sum(k * v for k, v in pre.items()) / n_pre,
            "mean_retro": sum(k * v for k, v in retro.items()) / n_retro,
            "p_value": p_adj,
            "p_value_uncorrected": p_raw,
            "flagged": p_adj < ranking_stats.FLAG_ALPHA,
        })
    return out


def leaderboard(scope: Scope, *, now: datetime | None = None) -> Leaderboard:
    """Rank the models in ``scope``: best mean points per match first, with t-intervals and flags."""
    now = now or timezone.now()
    aggregates = _row_aggregates(scope, now=now)
    rows = sorted((_row(a) for a in aggregates), key=lambda r: (-r["mean_points"], -r["points"], r["model"]))
    checks = contamination(scope, now=now)
    flagged = {c["model"] for c in checks if c["flagged"]}
    for row in rows:
        row["flagged"] = row["model"] in flagged
    matches = aggregates[0]["matches_in_scope"] if aggregates else 0
    coverage = {
        "matches": matches,
        "pre_kickoff_share": {a["model__slug"]: (a["pre_kickoff"] / matches if matches else 0.0) for a in aggregates},
        "retroactive_excluded": sum(a["retroactive_excluded"] for a in aggregates),
    }
    return Leaderboard(
        rows=rows, contamination=checks, filters=scope.as_dict(), coverage=coverage,
        message=None if rows else EMPTY_MESSAGE,
    )
