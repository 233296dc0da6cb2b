"""Benchmark 1: find_gaps at 1M, 4M and 8M predictions beside the original platform's query shape.

The tables are filled with set-based SQL (generate_series), never the ORM row
by row. Density is fixed (MATCHES_PER_DAY) and each size adds older seasons,
so a fixed window always holds the same matches: a query whose time grows
with the table is scanning more than its window.

    python -m bench.gap_detection [--sizes 1000000,4000000,8000000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

MATCHES_PER_DAY = 100
ACTIVE_MODELS = 42
INACTIVE_MODELS = 3
LEAGUES = 20
TEAMS = 400
SEASONS = 12
WINDOWS = (1, 7, 30, 365)
FULL_SIZES = (1_000_000, 4_000_000, 8_000_000)
QUICK_SIZES = (100_000, 400_000, 800_000)
# The most recent week is damaged the way a failed pipeline damages it.
RECENT_MATCHES = 7 * MATCHES_PER_DAY
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# A deterministic per-match pseudo-random number 0..999 ("r") from its id.
_R = "mod(m.id * 2654435761, 1000)"
# Damage: old matches 4% partial, recent ones 30%; partial sets keep r % 42 predictions.
_DAMAGED = f"(CASE WHEN m.id <= {RECENT_MATCHES} THEN {_R} < 300 ELSE mod({_R}, 25) = 0 END)"
_N_PREDICTIONS = f"(CASE WHEN {_DAMAGED} THEN mod({_R}, {ACTIVE_MODELS}) ELSE {ACTIVE_MODELS} END)"
_HAS_ANALYSIS = f"(CASE WHEN m.id <= {RECENT_MATCHES} THEN mod({_R}, 5) <> 1 ELSE mod({_R}, 50) <> 1 END)"
_STATUS = (
    f"(CASE WHEN g <= 15 THEN 'live' WHEN mod({_R}, 100) = 7 THEN 'cancelled' "
    f"WHEN mod({_R}, 100) = 8 THEN 'postponed' ELSE 'finished' END)"
)

ORIGINAL_SQL = """
SELECT m.id, COUNT(p.id) AS prediction_count, a.id IS NOT NULL AS has_analysis
FROM matches_match m
LEFT JOIN matches_matchanalysis a ON a.match_id = m.id
LEFT JOIN predictions_prediction p ON p.match_id = m.id
WHERE m.kickoff_time >= %s AND m.kickoff_time <= %s
  AND m.status IN ('scheduled', 'live', 'finished') AND m.external_id IS NOT NULL
GROUP BY m.id, a.id
HAVING COUNT(p.id) < %s
ORDER BY m.kickoff_time
"""


# --- filling ----------------------------------------------------------------------------------


def _execute(sql: str, params: tuple = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def reset() -> None:
    """Empty the project's tables (the benchmark's own database, or a test's)."""
    from bench.world import reset_tables

    reset_tables()
    _execute(
        "INSERT INTO predictions_predictionmodel (id, slug, name, provider, config, is_active, inactive_reason, "
        "consecutive_failures, last_error, created_at, updated_at) "
        "SELECT k, 'bench-model-' || k, 'Bench model ' || k, 'fixed_score', '{\"home\": 2, \"away\": 1}', "
        f"k <= {ACTIVE_MODELS}, '', 0, '', now(), now() FROM generate_series(1, {ACTIVE_MODELS + INACTIVE_MODELS}) k"
    )
    _execute(
        "INSERT INTO matches_competition (id, external_id, code, name, country, season, result_rule, created_at, "
        "updated_at) "
        f"SELECT l * {SEASONS} + s + 1, 100 + l, '', 'Bench league ' || l, 'Benchland', {NOW.year} - s, 'after_90', "
        "now(), now() "
        f"FROM generate_series(0, {LEAGUES - 1}) l, generate_series(0, {SEASONS - 1}) s"
    )
    _execute(
        "INSERT INTO matches_team (id, external_id, name, created_at) "
        f"SELECT t, 50000 + t, 'Bench team ' || t, now() FROM generate_series(1, {TEAMS}) t"
    )


def match_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM matches_match")
        return cursor.fetchone()[0]


def prediction_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM predictions_prediction")
        return cursor.fetchone()[0]


def grow_to(predictions: int) -> dict:
    """Add older matches (match 1 kicks off just before NOW) until about ``predictions`` predictions exist."""
    started = time.perf_counter()
    # About 41.6 predictions per match: 42, minus damage, plus an inactive model's on half of them.
    lo = match_count() + 1
    hi = max(lo - 1, round(predictions / 41.6))
    if hi < lo:
        return {"matches_added": 0, "seconds": 0.0}
    params = (NOW, lo, hi)
    _execute("SET session_replication_role = replica")  # skip FK triggers: the generated keys are consistent
    try:
        _execute(
            "INSERT INTO matches_match (id, external_id, kickoff_time, status, status_code, home_score, away_score, "
            "round, settled_at, created_at, updated_at, competition_id, home_team_id, away_team_id) "
            f"SELECT g, CASE WHEN mod({_R}, 100) = 9 THEN NULL ELSE 10000000 + g END, "
            f"%s - make_interval(secs => g * 86400.0 / {MATCHES_PER_DAY} + 60), {_STATUS}, '', "
            f"mod({_R}, 4), mod({_R} / 4, 3), 'Round', NULL, now(), now(), "
            f"mod(g, {LEAGUES}) * {SEASONS} + LEAST(g / ({MATCHES_PER_DAY} * 365), {SEASONS - 1}) + 1, "
            f"mod(g, {TEAMS}) + 1, mod(mod(g, {TEAMS}) + 1 + mod(g / {TEAMS}, {TEAMS} - 1), {TEAMS}) + 1 "
            "FROM generate_series(%s, %s) g CROSS JOIN LATERAL (SELECT g AS id) m",
            params,
        )
        _execute(
            "UPDATE matches_match m SET home_score = NULL, away_score = NULL WHERE m.id BETWEEN %s AND %s "
            "AND m.status <> 'finished'",
            (lo, hi),
        )
        _execute(
            "INSERT INTO matches_matchanalysis (as_of, data, created_at, match_id) "
            f"SELECT m.kickoff_time, '{{}}', now(), m.id FROM matches_match m WHERE m.id BETWEEN %s AND %s "
            f"AND {_HAS_ANALYSIS}",
            (lo, hi),
        )
        # Finished matches are settled ('scored') except 1 in 40 whose settlement failed.
        _execute(
            "INSERT INTO predictions_prediction (predicted_home, predicted_away, status, tendency_points, "
            "goal_diff_bonus, exact_score_bonus, total_points, is_retroactive, created_at, scored_at, analysis_id, "
            "match_id, model_id, prompt_version) "
            "SELECT mod(m.id + k, 4), mod(m.id * k, 3), "
            f"CASE WHEN m.status = 'finished' AND mod({_R}, 40) <> 1 THEN 'scored' ELSE 'pending' END, "
            "0, 0, 0, 0, false, m.kickoff_time - interval '1 hour', NULL, NULL, m.id, k, 'v1' "
            f"FROM matches_match m CROSS JOIN generate_series(1, {ACTIVE_MODELS + 1}) k "
            f"WHERE m.id BETWEEN %s AND %s "
            f"AND (k <= {_N_PREDICTIONS} OR (k = {ACTIVE_MODELS + 1} AND mod(m.id, 2) = 0)) "
            # A match's predictions are written together (one predict_match), so they sit together on disk.
            "ORDER BY m.id DESC, k",
            (lo, hi),
        )
    finally:
        _execute("SET session_replication_role = DEFAULT")
    return {"matches_added": hi - lo + 1, "seconds": time.perf_counter() - started}


def analyze_tables(*, vacuum: bool) -> None:
    """Fresh statistics (and a visibility map, for index-only scans) after a bulk load."""
    from django.db import connection

    verb = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
    for table in ("matches_match", "matches_matchanalysis", "predictions_prediction", "predictions_predictionmodel"):
        if vacuum and connection.in_atomic_block:
            verb = "ANALYZE"  # VACUUM cannot run inside a transaction (the test suite's case)
        _execute(f"{verb} {table}")


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Timing:
    window_days: int
    gaps: int
    queries: int
    median_ms: float
    original_median_ms: float
    original_gaps: int
    plan: list[str] = field(default_factory=list)
    original_plan: list[str] = field(default_factory=list)
    scans_growing: list[str] = field(default_factory=list)


def _median_ms(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _original(days: int, now: datetime) -> list[tuple]:
    from django.db import connection

    from backfill.selectors import window

    start, end = window(days, now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM predictions_predictionmodel WHERE is_active")
        active = cursor.fetchone()[0]
        cursor.execute(ORIGINAL_SQL, (start, end, active))
        return cursor.fetchall()


def _plan_nodes(node: dict, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """The plan's main nodes: joins, aggregates and every scan, with rows x loops."""
    out = [] if out is None else out
    kind = node["Node Type"]
    target = node.get("Index Name") or node.get("Relation Name") or ""
    rel = node.get("Relation Name", "")
    if kind.endswith("Scan") or "Join" in kind or kind in ("Nested Loop", "Aggregate", "Hash", "Sort", "SubPlan"):
        where = f" {target}" + (f" on {rel}" if rel and rel != target else "")
        out.append(f"{'  ' * depth}{kind}{where if target else ''} "
                   f"(rows {node.get('Actual Rows', '?')} x loops {node.get('Actual Loops', '?')})")
    for child in node.get("Plans", []):
        _plan_nodes(child, depth + 1, out)
    return out


def explain(sql: str, params) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return _plan_nodes(plan[0]["Plan"])


def growing_scans(plan: list[str]) -> list[str]:
    """Scans whose cost follows the table, not the window: sequential scans of the big tables."""
    big = {"matches_match", "predictions_prediction", "matches_matchanalysis"}
    return [line.strip() for line in plan if "Seq Scan" in line and set(line.split()) & big]


def time_window(days: int, *, now: datetime = NOW, repeats: int = 7, warmup: int = 2) -> Timing:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backfill.selectors import find_gaps, gap_queryset, window

    with CaptureQueriesContext(connection) as ctx:
        gaps = find_gaps(days, now=now)
    queries = len(ctx.captured_queries)
    median = _median_ms(lambda: find_gaps(days, now=now), repeats, warmup)
    original_rows = _original(days, now)
    original_median = _median_ms(lambda: _original(days, now), max(3, repeats // 2), 1)
    qs = gap_queryset(days, now=now).values_list("pk", "missing_ids")
    sql, params = qs.query.sql_with_params()
    plan = explain(sql, params)
    start, end = window(days, now)
    original_plan = explain(ORIGINAL_SQL, (start, end, ACTIVE_MODELS))
    return Timing(
        window_days=days, gaps=len(gaps), queries=queries, median_ms=median, original_median_ms=original_median,
        original_gaps=len(original_rows), plan=plan, original_plan=original_plan, scans_growing=growing_scans(plan),
    )


def run(sizes: tuple[int, ...], *, windows: tuple[int, ...] = WINDOWS, repeats: int = 7, warmup: int = 2,
        vacuum: bool = True, out=print) -> list[dict]:
    """Grow the tables through ``sizes`` and time every window at each size; returns one row per (size, window)."""
    reset()
    rows = []
    for size in sizes:
        fill = grow_to(size)
        analyze_tables(vacuum=vacuum)
        total = prediction_count()
        out(f"\n== {total:,} predictions, {match_count():,} matches "
            f"(fill +{fill['matches_added']:,} matches in {fill['seconds']:.1f}s)")
        for days in windows:
            t = time_window(days, repeats=repeats, warmup=warmup)
            rows.append({"predictions": total, "fill_seconds": fill["seconds"], **t.__dict__})
            out(f"  {days:>3} d: find_gaps {t.median_ms:8.1f} ms median, {t.queries} SQL query, {t.gaps} gaps | "
                f"original shape {t.original_median_ms:8.1f} ms, {t.original_gaps} rows")
            if t.scans_growing:
                out(f"       scans growing with the table: {t.scans_growing}")
    return rows


def print_report(rows: list[dict], out=print) -> None:
    sizes = sorted({r["predictions"] for r in rows})
    windows = sorted({r["window_days"] for r in rows})
    by = {(r["predictions"], r["window_days"]): r for r in rows}
    out("\nfind_gaps median ms (original shape in brackets); queries per call")
    out("| predictions | " + " | ".join(f"{d} d" for d in windows) + " | queries |")
    out("|---|" + "---|" * len(windows) + "---|")
    for size in sizes:
        cells = [f"{by[size, d]['median_ms']:.1f} ({by[size, d]['original_median_ms']:.1f})" for d in windows]
        queries = {by[size, d]["queries"] for d in windows}
        out(f"| {size:,} | " + " | ".join(cells) + f" | {','.join(map(str, sorted(queries)))} |")
    first, last = sizes[0], sizes[-1]
    out(f"\ngrowth {first:,} -> {last:,} predictions (x{last / first:.1f} rows):")
    for d in windows:
        a, b = by[first, d], by[last, d]
        out(f"  {d:>3} d: find_gaps x{b['median_ms'] / a['median_ms']:.2f}, "
            f"original x{b['original_median_ms'] / a['original_median_ms']:.2f}")
    biggest7 = by.get((last, 7))
    if biggest7:
        out(f"\nEXPLAIN ANALYZE main nodes, find_gaps, 7 days at {last:,}:")
        for line in biggest7["plan"]:
            out("  " + line)
        out(f"EXPLAIN ANALYZE main nodes, original shape, 7 days at {last:,}:")
        for line in biggest7["original_plan"]:
            out("  " + line)
        verdict = "met" if biggest7["median_ms"] < 50 else "MISSED"
        out(f"\ntarget < 50 ms median for 7 days at {last:,}: {biggest7['median_ms']:.1f} ms -> {verdict}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated prediction counts")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else QUICK_SIZES if args.quick else FULL_SIZES
    rows = run(sizes, repeats=args.repeats)
    print_report(rows)
    return rows


if __name__ == "__main__":
    main()
