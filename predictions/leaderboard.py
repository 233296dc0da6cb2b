"""The leaderboard selector: models ranked by points per settled match, and the contamination check.

Reads only matches and predictions. Whatever the number of predictions it
issues one aggregated query (a histogram of points per model and kind) that
serves the rows and the contamination check, plus a lookup of the few
models' names; --common adds one aggregated query for its restricted rows. See ``ranking_stats`` for the statistics.

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

from django.db.models import Count, IntegerField, Q, QuerySet, Subquery, Value
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
    listed = counted.values("model_id").annotate(n=Count("*")).filter(n__gte=scope.min_predictions).values("model_id")
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


@dataclass
class _Tally:
    """One model's settled predictions in scope, per kind: {retroactive?: {(points, tendency, exact): count}}."""

    slug: str
    name: str
    kinds: dict[bool, dict[tuple[int, int, int], int]]
    pk: int = 0

    def histogram(self, retro: bool) -> dict[int, int]:
        out: dict[int, int] = {}
        for (points, _, _), c in self.kinds[retro].items():
            out[points] = out.get(points, 0) + c
        return out

    def count(self, retro: bool) -> int:
        return sum(self.kinds[retro].values())


def _tallies(predictions: QuerySet[Prediction], matches_in_scope: Subquery) -> tuple[dict[int, _Tally], int]:
    """One aggregated query: counts per (model, kind, points, tendency points, exact bonus), and matches in scope.

    Points are small integers, so the groups number a few hundred at any
    table size and every figure of the table and the rank test follows. It
    groups by integer columns only, read from prediction_scored_cover_idx
    (no heap, no join for names: hashing text per row costs more than the scan).
    """
    groups = (
        predictions.values("model_id", "is_retroactive", "total_points", "tendency_points", "exact_score_bonus")
        .annotate(c=Count("*"), matches_in_scope=matches_in_scope)
    )
    tallies: dict[int, _Tally] = {}
    matches = 0
    for g in groups:
        tally = tallies.setdefault(g["model_id"], _Tally("", "", {True: {}, False: {}}))
        tally.kinds[g["is_retroactive"]][g["total_points"], g["tendency_points"], g["exact_score_bonus"]] = g["c"]
        matches = g["matches_in_scope"] or 0
    return tallies, matches


def _by_slug(*tally_sets: dict[int, _Tally]) -> list[dict[str, _Tally]]:
    """Name the tallies (a primary-key lookup of the few models that appear)."""
    ids = set().union(*tally_sets)
    names = {pk: (slug, name) for pk, slug, name in
             PredictionModel.objects.filter(pk__in=ids).values_list("pk", "slug", "name")} if ids else {}
    out = []
    for tallies in tally_sets:
        named = {}
        for pk, tally in tallies.items():
            tally.pk, (tally.slug, tally.name) = pk, names[pk]
            named[tally.slug] = tally
        out.append(named)
    return out


def _row(tally: _Tally, *, include_retroactive: bool) -> dict:
    kinds = [False, True] if include_retroactive else [False]
    cells = [(key, c) for retro in kinds for key, c in tally.kinds[retro].items()]
    n = sum(c for _, c in cells)
    points = sum(key[0] * c for key, c in cells)
    ci = ranking_stats.mean_ci(n=n, total=points, sum_squares=sum(key[0] ** 2 * c for key, c in cells))
    return {
        "model": tally.slug,
        "model_id": tally.pk,
        "name": tally.name,
        "predictions": n,
        "points": points,
        "mean_points": points / n if n else 0.0,
        # Points are never negative: a t-interval reaching below 0 (few, spread-out scores) is clipped there.
        "ci95": [max(0.0, ci[0]), ci[1]] if ci else [None, None],
        "exact": sum(c for key, c in cells if key[2] > 0),
        "tendency": sum(c for key, c in cells if key[1] > 0),
        "retroactive_excluded": 0 if include_retroactive else tally.count(True),
        "flagged": False,
    }


def contamination(tallies: dict[str, _Tally]) -> list[dict]:
    """Per model with both kinds in scope: does retroactive score better than pre-kickoff?

    Mann-Whitney on points per match, one-sided, Holm-corrected over the
    models tested, flagged at p < 0.01. It reads the scope's match filters and
    prompt version, never --common or --min-predictions: a model is tested on
    everything it has in scope.
    """
    tested = sorted(slug for slug, t in tallies.items() if t.count(True) and t.count(False))
    hists = {slug: (tallies[slug].histogram(True), tallies[slug].histogram(False)) for slug in tested}
    raw = [ranking_stats.mann_whitney_greater(*hists[slug]) for slug in tested]
    out = []
    for slug, p_raw, p_adj in zip(tested, raw, ranking_stats.holm(raw), strict=True):
        retro, pre = hists[slug]
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
    """Rank the models in ``scope``: best mean points per match first, with t-intervals and flags.

    One aggregated query serves the rows and the contamination inputs (plus a
    primary-key lookup of the models' names); with --common the rows need
    their own, restricted to the shared matches.
    """
    now = now or timezone.now()
    base = scoped_predictions(scope, now=now)
    by_id, matches = _tallies(base, _matches_in_scope(scope, now=now, shared=None))
    rows_by_id = by_id
    if scope.common:
        listed, shared = _common_restriction(scope, base)
        restricted = base.filter(model_id__in=listed, match_id__in=shared)
        rows_by_id, matches = _tallies(restricted, _matches_in_scope(scope, now=now, shared=shared))
    everything, row_tallies = _by_slug(by_id, rows_by_id)
    rows = [_row(t, include_retroactive=scope.include_retroactive) for t in row_tallies.values()]
    rows = [r for r in rows if r["predictions"] >= scope.min_predictions]
    rows.sort(key=lambda r: (-r["mean_points"], -r["points"], r["model"]))
    checks = contamination(everything)
    flagged = {c["model"] for c in checks if c["flagged"]}
    for row in rows:
        row["flagged"] = row["model"] in flagged
    listed_slugs = {r["model"] for r in rows}
    coverage = {
        "matches": matches,
        "pre_kickoff_share": {
            slug: (t.count(False) / matches if matches else 0.0) for slug, t in row_tallies.items()
            if slug in listed_slugs
        },
        "retroactive_excluded": sum(r["retroactive_excluded"] for r in rows),
    }
    return Leaderboard(
        rows=rows, contamination=checks, filters=scope.as_dict(), coverage=coverage,
        message=None if rows else EMPTY_MESSAGE,
    )
