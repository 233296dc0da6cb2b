"""Benchmark 1: find_gaps at 1M, 4M and 8M predictions beside the original platform's query shape.

Each world (``bench.gap_world``: today's bench world and a denser, shuffled one
with another damage pattern) is timed with the same windows, ours and the naive
shape side by side in one run. ``--keep`` reuses a database already filled with
the same world at the same (single) size, so an 8M world is built once.

    python -m bench.gap_detection [--sizes 1000000,4000000,8000000] [--quick] [--world bench|dense] [--keep]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime

from bench.gap_world import (
    BENCH,
    NOW,
    WORLDS,
    GapWorld,
    analyze_tables,
    built_size,
    grow_to,
    mark_built,
    match_count,
    prediction_count,
    reset,
)

WINDOWS = (1, 7, 30, 365)
FULL_SIZES = (1_000_000, 4_000_000, 8_000_000)
QUICK_SIZES = (100_000, 400_000, 800_000)
SHORT_WINDOW_FACTOR = 5  # windows under 30 days are timed 5 times as often (median of 45 at --repeats 9)

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


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Timing:
    window_days: int
    gaps: int
    queries: int
    median_ms: float
    original_median_ms: float
    original_gaps: int
    find_gaps_median_ms: float = 0.0
    plan: list[str] = field(default_factory=list)
    original_plan: list[str] = field(default_factory=list)
    scans_growing: list[str] = field(default_factory=list)


def _side_by_side(*fns, repeats: int, warmup: int) -> list[float]:
    """Median ms of each, alternating runs so a load spike on the shared machine hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, samples, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return [statistics.median(s) for s in samples]


def _active_count() -> int:
    from predictions.selectors import active_models

    return active_models().count()


def _original(days: int, now: datetime) -> list[tuple]:
    """The naive shape, its threshold read once beforehand (so it is timed as one query, like ours)."""
    from django.db import connection

    from backfill.selectors import window

    start, end = window(days, now)
    with connection.cursor() as cursor:
        cursor.execute(ORIGINAL_SQL, (start, end, _ACTIVE[0]))
        return cursor.fetchall()


_ACTIVE = [0]


def _plan_nodes(node: dict, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """The plan's main nodes: joins, aggregates and every scan, with rows x loops."""
    out = [] if out is None else out
    kind = node["Node Type"]
    target = node.get("Index Name") or node.get("Relation Name") or ""
    rel = node.get("Relation Name", "")
    if kind.endswith("Scan") or "Join" in kind or kind in ("Nested Loop", "Aggregate", "Hash", "Sort", "SubPlan",
                                                           "Incremental Sort", "GroupAggregate", "Gather Merge"):
        where = f" {target}" + (f" on {rel}" if rel and rel != target else "")
        out.append(f"{'  ' * depth}{kind}{where if target else ''} "
                   f"(rows {node.get('Actual Rows', '?')} x loops {node.get('Actual Loops', '?')}, "
                   f"buffers {node.get('Shared Hit Blocks', 0) + node.get('Shared Read Blocks', 0)})")
    for child in node.get("Plans", []):
        _plan_nodes(child, depth + 1, out)
    return out


def explain(sql: str, params) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
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

    from backfill.selectors import find_gaps, gap_rows, gap_sql, window

    with CaptureQueriesContext(connection) as ctx:
        gaps = find_gaps(days, now=now)
    queries = len(ctx.captured_queries)
    _ACTIVE[0] = _active_count()
    # Like for like: each side's query on the same connection, its rows fetched into Python (ours with the
    # missing ids finished in Python, as gap_rows returns them); find_gaps adds the MatchGap objects.
    median, original_median, objects_median = _side_by_side(
        lambda: gap_rows(days, now=now), lambda: _original(days, now), lambda: find_gaps(days, now=now),
        repeats=repeats, warmup=warmup,
    )
    original_rows = _original(days, now)
    plan = explain(*gap_sql(days, now))
    start, end = window(days, now)
    original_plan = explain(ORIGINAL_SQL, (start, end, _active_count()))
    return Timing(
        window_days=days, gaps=len(gaps), queries=queries, median_ms=median, original_median_ms=original_median,
        original_gaps=len(original_rows), find_gaps_median_ms=objects_median, plan=plan, original_plan=original_plan,
        scans_growing=growing_scans(plan),
    )


def _fill(world: GapWorld, size: int, *, first: bool, keep: bool, vacuum: bool) -> dict:
    """Grow this database to ``size`` in ``world``; with ``keep``, reuse it if it already holds exactly that."""
    if keep and built_size(world) == size:
        return {"matches_added": 0, "seconds": 0.0, "reused": True}
    if first:
        reset(world)
    fill = grow_to(size, world)
    analyze_tables(vacuum=vacuum)
    if keep:
        mark_built(world, size)
    return {**fill, "reused": False}


def run(sizes: tuple[int, ...], *, windows: tuple[int, ...] = WINDOWS, repeats: int = 7, warmup: int = 2,
        vacuum: bool = True, world: GapWorld = BENCH, keep: bool = False, out=print) -> list[dict]:
    """Grow the tables through ``sizes`` and time every window at each size; returns one row per (size, window)."""
    if keep and len(sizes) != 1:
        raise ValueError("--keep reuses one world at one size: give a single size")
    rows = []
    out(f"\n=== world {world.name!r}: {world.matches_per_day} matches a day, shuffled={world.shuffled}")
    for i, size in enumerate(sizes):
        fill = _fill(world, size, first=i == 0, keep=keep, vacuum=vacuum)
        total = prediction_count()
        how = "reused" if fill["reused"] else f"fill +{fill['matches_added']:,} matches in {fill['seconds']:.1f}s"
        out(f"\n== {total:,} predictions, {match_count():,} matches ({how})")
        for days in windows:
            # A load spike of the shared machine is a larger share of a few-ms query: more samples there.
            t = time_window(days, repeats=repeats * SHORT_WINDOW_FACTOR if days < 30 else repeats, warmup=warmup)
            rows.append({"world": world.name, "predictions": total, "fill_seconds": fill["seconds"], **t.__dict__})
            out(f"  {days:>3} d: gap query {t.median_ms:8.1f} ms median, {t.queries} SQL query, {t.gaps} gaps | "
                f"original shape {t.original_median_ms:8.1f} ms, {t.original_gaps} rows | "
                f"find_gaps (with MatchGap objects) {t.find_gaps_median_ms:8.1f} ms")
            if t.scans_growing:
                out(f"       scans growing with the table: {t.scans_growing}")
    return rows


def print_report(rows: list[dict], out=print) -> None:
    """Per world: ours and the naive shape (in brackets) at every size and window, and the verdict."""
    for name in dict.fromkeys(r.get("world", "bench") for r in rows):
        _print_world(name, [r for r in rows if r.get("world", "bench") == name], out)


def _print_world(name: str, rows: list[dict], out) -> None:
    sizes = sorted({r["predictions"] for r in rows})
    windows = sorted({r["window_days"] for r in rows})
    by = {(r["predictions"], r["window_days"]): r for r in rows}
    out(f"\nworld {name!r}: gap query (gap_rows) median ms (naive shape in brackets); queries per call")
    out("| predictions | " + " | ".join(f"{d} d" for d in windows) + " | queries |")
    out("|---|" + "---|" * len(windows) + "---|")
    for size in sizes:
        cells = [f"{by[size, d]['median_ms']:.1f} ({by[size, d]['original_median_ms']:.1f})" for d in windows]
        queries = {by[size, d]["queries"] for d in windows}
        out(f"| {size:,} | " + " | ".join(cells) + f" | {','.join(map(str, sorted(queries)))} |")
    last = sizes[-1]
    if len(sizes) > 1:
        first = sizes[0]
        out(f"growth {first:,} -> {last:,} predictions (x{last / first:.1f} rows): " + ", ".join(
            f"{d} d x{by[last, d]['median_ms'] / by[first, d]['median_ms']:.2f} "
            f"(naive x{by[last, d]['original_median_ms'] / by[first, d]['original_median_ms']:.2f})"
            for d in windows))
    for d in windows:
        r = by[last, d]
        out(f"  {d:>3} d at {last:,}: ours / naive = {r['median_ms'] / r['original_median_ms']:.2f} "
            f"(find_gaps with its MatchGap objects: {r.get('find_gaps_median_ms', 0):.1f} ms)")
    slower = [d for d in windows if by[last, d]["median_ms"] > by[last, d]["original_median_ms"]]
    verdict = "met" if not slower else f"MISSED at {', '.join(f'{d} d' for d in slower)}"
    out(f"target (ours <= naive at every window at {last:,}): {verdict}")
    biggest7 = by.get((last, 7))
    if biggest7:
        out(f"EXPLAIN ANALYZE main nodes, find_gaps, 7 days at {last:,}:")
        for line in biggest7["plan"]:
            out("  " + line)
        out(f"EXPLAIN ANALYZE main nodes, naive shape, 7 days at {last:,}:")
        for line in biggest7["original_plan"]:
            out("  " + line)


def run_worlds(sizes: tuple[int, ...], *, worlds: tuple[GapWorld, ...], repeats: int, keep: bool = False,
               out=print) -> list[dict]:
    """Today's world through every size, the other worlds at the largest size only (a fill each)."""
    rows = []
    for world in worlds:
        own = sizes if world is BENCH else sizes[-1:]
        rows += run(own, repeats=repeats, world=world, keep=keep, out=out)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated prediction counts")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--world", choices=sorted(WORLDS), default=None, help="one world (default: all)")
    parser.add_argument("--keep", action="store_true", help="reuse a database already filled with this world")
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else QUICK_SIZES if args.quick else FULL_SIZES
    worlds = (WORLDS[args.world],) if args.world else tuple(WORLDS.values())
    if args.keep and len(sizes) != 1:
        parser.error("--keep needs a single size (--sizes N)")
    rows = run_worlds(sizes, worlds=worlds, repeats=args.repeats, keep=args.keep)
    print_report(rows)
    return rows


if __name__ == "__main__":
    main()
