"""Finding gaps: matches of a window with fewer predictions than active models, or unsettled."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress

from django.db import connection
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
    # Some prediction still unsettled, for a match that misses no model (one that misses models is settled
    # after their predictions anyway, so the query does not look: False).
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
    """The portable gap query (SQLite, the embedded default); PostgreSQL runs ``gap_sql``'s text, same rows."""
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


# PostgreSQL's gap query. Why these shapes (README, "Gap detection"; plans read with EXPLAIN (ANALYZE, BUFFERS)):
# - first choice, the "stored" text: every active model id within 1..63. Each match row carries
#   ``predicted_model_bits`` and ``unsettled_predictions``, which PostgreSQL's triggers keep (predictions
#   migration 0005). The query scans the window's matches alone: missing = ``lineup & ~bits``. The lineup
#   is read in InitPlans, so the filter runs in the scan and only the gaps are sorted. Nothing is read
#   from predictions_prediction (bench 365 d: 0.07x the naive shape, against 0.8-1.0x for the texts below);
# The texts below count from the predictions, for lineups whose ids the bits cannot hold:
# - the window's matches are materialised in match-id order, so the per-match probes of the prediction
#   indexes walk them in key order (neighbouring leaf pages) whatever order kickoffs and rows have on disk;
# - one LATERAL per match reads its predictions from the covering index alone, in one pass that gives both
#   the active count and the missing models: the lineup is a bitmask (bit ``id - base`` for each active id,
#   ``base`` the smallest), the match's rows OR their bits into another, and ``lineup & ~present`` is the
#   mask of the models it misses (0: none). A retired id sets a bit the lineup does not have, or lies
#   outside the mask's 63 bits and is filtered out; the count is the lineup's size minus the missing bits;
# - no GROUP BY over the joined rows; the analysis probe is read for gaps only; "some prediction is not
#   scored" is no probe at all but the match row's ``unsettled_predictions``, a count PostgreSQL's triggers
#   keep (predictions migration 0005); it counts for complete finished matches only: a match that misses
#   models is settled after their predictions anyway, so its ``has_unsettled`` is False;
# - a bigint holds 63 ids from ``base``: a lineup whose active ids span more ("wide", after many models
#   have come and gone) makes the mask NULL, every row says so, and ``gap_rows`` runs the wide text instead,
#   which counts with a range-then-array test of the retired ids and aggregates the match's model ids as
#   text (the previous shape: about 10% slower at 1 and 7 days, 2-8% at 30 and 365). It remembers the last
#   lineup's shape, so a wide lineup costs the second query once, and the wide text says when it fits again;
# - the missing ids are decoded in Python once per distinct mask (gaps repeat their pattern);
# - the statuses are literals of the text and the match-id filter is only there when asked for, so the
#   client binds two timestamps and nothing else (psycopg's client-side binding quotes every parameter).
MASK_BITS = 63  # ids base .. base + 62: bit 63 would be the sign of the bigint
_WIN = """
win AS MATERIALIZED (
    SELECT m.id, m.status, m.kickoff_time, m.external_id, m.home_score, m.away_score,
           {unsettled} AS unsettled
    FROM matches_match m
    WHERE m.kickoff_time >= %(start)s AND m.kickoff_time <= %(end)s
      AND m.status IN ({eligible}) AND m.external_id IS NOT NULL{ids_filter}
    ORDER BY m.id
)"""
# ``unsettled_predictions`` is kept by PostgreSQL's triggers (predictions migration 0005), not by Django.
_UNSETTLED = """(m.status = '{finished}' AND m.home_score IS NOT NULL AND m.away_score IS NOT NULL
           AND m.unsettled_predictions > 0)"""
_ANALYSIS = "EXISTS (SELECT 1 FROM matches_matchanalysis a WHERE a.match_id = m.id AND a.as_of <= m.kickoff_time)"
_STORED_TEMPLATE = """
WITH lineup AS MATERIALIZED (
    SELECT COUNT(*) AS n,
           CASE WHEN COALESCE(MIN(id), 1) >= 1 AND COALESCE(MAX(id), 0) <= {stored_top} THEN COALESCE(
               BIT_OR(1::bigint << (id - 1)::int) FILTER (WHERE id BETWEEN 1 AND {stored_top}), 0) END AS mask
    FROM predictions_predictionmodel WHERE is_active
)
SELECT m.id, m.status, m.kickoff_time, m.external_id, m.home_score, m.away_score, {analysis},
       (SELECT mask FROM lineup) & ~m.predicted_model_bits AS missing, (SELECT n FROM lineup), 1 AS base,
       TRUE AS stored_fits
FROM matches_match m
WHERE (SELECT mask FROM lineup) IS NOT NULL
  AND m.kickoff_time >= %(start)s AND m.kickoff_time <= %(end)s
  AND m.status IN ({eligible}) AND m.external_id IS NOT NULL{ids_filter}
  AND (((SELECT mask FROM lineup) & ~m.predicted_model_bits) <> 0 OR {unsettled})
UNION ALL
-- The lineup does not fit the match rows' bits: one row says so (its mask NULL) and no match is read.
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n, 1, FALSE FROM lineup WHERE mask IS NULL
ORDER BY 3, 1
"""
_NARROW_TEMPLATE = """
WITH lineup AS MATERIALIZED (
    SELECT b.n, b.base, b.base + {span} AS top, (b.n = 0 OR b.base >= 1) AND b.hi <= {stored_top} AS stored_fits,
           CASE WHEN b.hi - b.base <= {span} THEN (
               SELECT COALESCE(BIT_OR(1::bigint << (id - b.base)::int), 0)
               FROM predictions_predictionmodel WHERE is_active) END AS mask
    FROM (SELECT COUNT(*) AS n, COALESCE(MIN(id), 0) AS base, COALESCE(MAX(id), 0) AS hi
          FROM predictions_predictionmodel WHERE is_active) b
), {win}
SELECT m.id, m.status, m.kickoff_time, m.external_id, m.home_score, m.away_score, {analysis}, c.missing, l.n, l.base,
       l.stored_fits
FROM win m
CROSS JOIN lineup l
CROSS JOIN LATERAL (
    SELECT l.mask & ~COALESCE(BIT_OR(1::bigint << (p.model_id - l.base)::int)
                              FILTER (WHERE p.model_id >= l.base AND p.model_id <= l.top), 0) AS missing
    FROM predictions_prediction p WHERE p.match_id = m.id
) c
WHERE c.missing <> 0 OR c.missing IS NULL OR m.unsettled
ORDER BY m.kickoff_time, m.id
"""
_WIDE_TEMPLATE = """
WITH lineup AS MATERIALIZED (
    SELECT COUNT(*) FILTER (WHERE is_active) AS n,
           COALESCE(ARRAY_AGG(id ORDER BY id) FILTER (WHERE is_active), '{{}}')::text AS active,
           COALESCE(ARRAY_AGG(id) FILTER (WHERE NOT is_active), '{{}}') AS retired,
           COALESCE(MIN(id) FILTER (WHERE NOT is_active), 9223372036854775807) AS lo,
           COALESCE(MAX(id) FILTER (WHERE NOT is_active), 0) AS hi,
           COALESCE(MAX(id) FILTER (WHERE is_active) - MIN(id) FILTER (WHERE is_active), 0) <= {span} AS fits
    FROM predictions_predictionmodel
), {win}
SELECT m.id, m.status, m.kickoff_time, m.external_id, m.home_score, m.away_score, {analysis}, c.n,
       CASE WHEN c.n < l.n THEN COALESCE(c.present::text, '{{}}') END,
       c.n >= l.n,
       CASE WHEN c.n < l.n THEN l.active END,
       l.fits
FROM win m
CROSS JOIN lineup l
CROSS JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE p.model_id < l.lo OR p.model_id > l.hi OR p.model_id <> ALL (l.retired)) AS n,
           ARRAY_AGG(p.model_id) AS present
    FROM predictions_prediction p WHERE p.match_id = m.id
) c
WHERE c.n < l.n OR m.unsettled
ORDER BY m.kickoff_time, m.id
"""


# The gap query's three texts, by the active ids of the lineup (``_LineupShape``): all within 1..63, read from
# the match rows' ``predicted_model_bits``; spanning at most 63, the bitmask counted from the predictions;
# wider, the count with the retired-id test and the model ids as text.
STORED, NARROW, WIDE = "stored", "narrow", "wide"
STORED_TOP = 63  # predicted_model_bits holds model ids 1..63 (bit id - 1)


def _gap_sql(*, shape: str, by_ids: bool) -> str:
    eligible = ", ".join(f"'{status}'" for status in ELIGIBLE)  # the model's own choices, not input
    ids_filter = "\n      AND m.id = ANY(%(ids)s::bigint[])" if by_ids else ""
    unsettled = _UNSETTLED.format(finished=Match.Status.FINISHED)
    if shape == STORED:
        return _STORED_TEMPLATE.format(stored_top=STORED_TOP, analysis=_ANALYSIS, eligible=eligible,
                                       ids_filter=ids_filter, unsettled=unsettled)
    win = _WIN.format(eligible=eligible, ids_filter=ids_filter, unsettled=unsettled).strip()
    template = _WIDE_TEMPLATE if shape == WIDE else _NARROW_TEMPLATE
    return template.format(span=MASK_BITS - 1, stored_top=STORED_TOP, win=win, analysis=_ANALYSIS)


_GAP_SQL = {(shape, by_ids): _gap_sql(shape=shape, by_ids=by_ids)
            for shape in (STORED, NARROW, WIDE) for by_ids in (False, True)}


class _LineupShape:
    """The shape of the last lineup seen, asked for with its own text straight away next time."""

    shape = STORED


def gap_sql(
    days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None, *, shape: str = STORED
) -> tuple[str, dict]:
    """The gap query's text for this window and its parameters (also for the benchmark's EXPLAIN)."""
    start, end = window(days, now)
    params: dict = {"start": start, "end": end}
    if match_ids is not None:
        params["ids"] = [int(i) for i in match_ids]
    return _GAP_SQL[shape, match_ids is not None], params


# A gap row: (id, status, kickoff, external id, home score, away score, has_analysis, active prediction
# count, missing model ids (sorted), has_unsettled), the same from either query.
GapRow = tuple[int, str, datetime, int | None, int | None, int | None, bool, int, tuple[int, ...], bool]
_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def gap_rows(days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None) -> list[GapRow]:
    """The gap query's rows: ``gap_sql``'s text on PostgreSQL, the portable ORM query elsewhere."""
    if connection.vendor != "postgresql":
        return portable_gap_rows(days, now, match_ids)
    if match_ids is not None:
        match_ids = list(match_ids)  # read again if the lineup turns out not to fit (gap_sql makes them ints)
    if _LineupShape.shape == STORED:
        rows = _fetch(gap_sql(days, now, match_ids, shape=STORED))
        if not rows or rows[0][7] is not None:
            return _narrow_rows(rows)
        _LineupShape.shape = NARROW  # the mask is NULL: an active id above 63, which the match rows lack
    if _LineupShape.shape == NARROW:
        rows = _fetch(gap_sql(days, now, match_ids, shape=NARROW))
        if not rows or rows[0][7] is not None:
            if rows and rows[0][10]:
                _LineupShape.shape = STORED  # every active id is within 1..63 again
            return _narrow_rows(rows)
        _LineupShape.shape = WIDE  # the mask is NULL: the active ids span more than 63
    rows = _fetch(gap_sql(days, now, match_ids, shape=WIDE))
    if rows and rows[0][-1]:
        _LineupShape.shape = NARROW
    return _wide_rows(rows)


def _fetch(query: tuple[str, dict]) -> list[tuple]:
    with connection.cursor() as cursor:
        _fast_timestamps(cursor)
        cursor.execute(*query)
        return cursor.fetchall()


def _narrow_rows(rows: list[tuple]) -> list[GapRow]:
    """Bit i of a row's mask is the model ``base + i``, missing. Decoded once per mask, in C: the mask's
    binary digits, lowest first, as bytes of 0 and 1, select the ids from the range (``itertools.compress``)."""
    if not rows:
        return []
    ids = range(rows[0][9], rows[0][9] + MASK_BITS)
    decoded: dict[int, tuple[int, ...]] = {0: ()}
    out = []
    for pk, status, kickoff, external_id, home, away, analysis, mask, n, _base, _stored_fits in rows:
        missing = decoded.get(mask)
        if missing is None:
            missing = decoded[mask] = tuple(compress(ids, bin(mask)[:1:-1].encode().translate(_BIT_BYTES)))
        out.append((pk, status, kickoff, external_id, home, away, analysis, n - len(missing), missing, not missing))
    return out


def _wide_rows(rows: list[tuple]) -> list[GapRow]:
    """Both arrays come as text ('{1,2,3}'): the lineup's ids not among the match's, once per pair."""
    lineups: dict[str, list[tuple[str, int]]] = {}
    seen: dict[tuple[str, str], tuple[int, ...]] = {}

    def missing(present: str | None, lineup: str | None) -> tuple[int, ...]:
        if present is None or lineup is None:
            return ()
        known = seen.get((present, lineup))
        if known is not None:
            return known
        active = lineups.get(lineup)  # the same string on every gap row of this query: split once
        if active is None:  # in id order, as the query aggregates it
            active = lineups[lineup] = [(x, int(x)) for x in lineup[1:-1].split(",") if x]
        have = set(present[1:-1].split(","))
        known = seen[present, lineup] = tuple([pk for text, pk in active if text not in have])
        return known

    return [
        (pk, status, kickoff, external_id, home, away, analysis, count, missing(present, lineup), unsettled)
        for pk, status, kickoff, external_id, home, away, analysis, count, present, unsettled, lineup, _fits in rows
    ]


def _fast_timestamps(cursor) -> None:
    """Read this cursor's kickoffs with psycopg's own (C) timestamptz loader instead of Django's.

    Django registers a Python subclass that re-applies the connection's time zone: 6.8 µs a value against
    0.4 µs (measured on 2,000 values), the biggest client-side cost of the gap rows. On a session whose
    TimeZone is UTC, which is how Django opens it with USE_TZ, both give the same aware UTC datetime.
    """
    if connection.timezone_name != "UTC" or not hasattr(cursor.cursor, "adapters"):
        return
    from psycopg.types.datetime import TimestamptzLoader

    cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


def portable_gap_rows(days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None) -> list[GapRow]:
    """``gap_queryset``'s rows in ``gap_rows``' shape (any database; the test compares both on PostgreSQL)."""
    rows = gap_queryset(days, now, match_ids).values_list(
        "pk", "status", "kickoff_time", "external_id", "home_score", "away_score", "has_analysis",
        "prediction_count", "missing_ids", "has_unsettled",
    )
    out = []
    for r in rows:
        missing = _parse_ids(r[8])
        # has_unsettled is only looked up for a match that misses no model, here as in gap_sql's text.
        out.append((*r[:6], bool(r[6]), r[7], missing, bool(r[9]) and not missing))
    return out


def find_gaps(days: int, now: datetime | None = None, match_ids: Iterable[int] | None = None) -> list[MatchGap]:
    """Every gap of the window, in one SQL query whatever the number of matches."""
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
            missing_model_ids=missing,
            has_unsettled=unsettled,
        )
        for pk, status, kickoff, external_id, home, away, has_analysis, count, missing, unsettled in gap_rows(
            days, now, match_ids
        )
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
