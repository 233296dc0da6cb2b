"""Benchmark 5: the model grid. Every vendored top-league season with a warm-up, walked forward.

    python -m bench.model_grid [--quick] [--processes N] [--league CODE ...]

For each (league, season) it runs ``evaluate`` (the ``evaluate_models``
service) with the tip-strategy variants and prints quota points and 2/3/4
points per match of every model, then checks the target: Dixon-Coles and Elo
each beat both fixed baselines by at least ``MARGIN`` quota points per match
and on 2/3/4 points. Seasons and leagues come from the data folder. Needs no
database; ``--processes`` (default 2) evaluates seasons in parallel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

MARGIN = 0.05
BASELINES = ("always-2-1", "most-frequent")
MODELS = ("dixon-coles", "elo")


def _setup() -> None:
    from django.apps import apps

    if apps.ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def grid_cells(leagues: list[str] | None = None) -> list[tuple[str, str]]:
    """(league, season) of every vendored top league season that has an earlier season to warm up on."""
    from matches.openfootball import LEAGUES, seasons_of, tier

    codes = leagues or sorted(code for code in LEAGUES if tier(code) == 1)
    return [(code, season) for code in codes for season in seasons_of(code)[1:]]


def evaluate_cell(cell: tuple[str, str], limit: int | None = None) -> dict:
    _setup()
    from predictions.services.evaluation import DEFAULT_LINEUP, VARIANTS, evaluate

    started = time.perf_counter()
    report = evaluate(league=cell[0], season=cell[1], limit=limit, lineup=DEFAULT_LINEUP + VARIANTS)
    return report.as_dict() | {"seconds": round(time.perf_counter() - started, 1)}


def verdict(report: dict, margin: float = MARGIN) -> dict[str, bool]:
    """Per main model: beats both baselines by ``margin`` quota points per match and on 2/3/4 points."""
    by_slug = {m["slug"]: m for m in report["models"]}
    best_quota = max(by_slug[b]["quota_points_per_match"] for b in BASELINES)
    best_kicktipp = max(by_slug[b]["kicktipp_points_per_match"] for b in BASELINES)
    return {
        slug: by_slug[slug]["quota_points_per_match"] >= best_quota + margin
        and by_slug[slug]["kicktipp_points_per_match"] > best_kicktipp
        for slug in MODELS
    }


def run(cells: list[tuple[str, str]], *, processes: int = 2, limit: int | None = None, out=print) -> list[dict]:
    if processes <= 1:
        reports = [evaluate_cell(cell, limit) for cell in cells]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            reports = list(pool.map(evaluate_cell, cells, [limit] * len(cells)))
    print_grid(reports, out=out)
    return reports


def print_grid(reports: list[dict], *, out=print) -> None:
    slugs = [m["slug"] for m in reports[0]["models"]]
    header = f"{'league season':<16} {'n':>4} {'unsc':>4} " + " ".join(f"{s[:22]:>22}" for s in slugs)
    out("quota pts/m | 2/3/4 pts/m per model (variants are scored against the field without joining it)")
    out(header)
    for r in reports:
        by_slug = {m["slug"]: m for m in r["models"]}
        cells = " ".join(
            f"{by_slug[s]['quota_points_per_match']:>10.3f} | {by_slug[s]['kicktipp_points_per_match']:>9.3f}"
            for s in slugs
        )
        out(f"{r['league'] + ' ' + r['season']:<16} {r['matches']:>4} {r['unscored_matches']:>4} {cells}")
    out(f"target (beat both baselines by >= {MARGIN} quota pts/m and on 2/3/4):")
    for r in reports:
        v = verdict(r)
        out(f"  {r['league']} {r['season']}: " + ", ".join(f"{s} {'met' if ok else 'MISSED'}" for s, ok in v.items()))
    out(f"warm-up: {reports[0]['warm_up']} (first season shown)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Walk every vendored top-league season forward.")
    parser.add_argument("--quick", action="store_true", help="only the first 40 matches of each season")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--league", action="append", help="restrict to these league codes")
    args = parser.parse_args(argv)
    _setup()
    started = time.perf_counter()
    run(grid_cells(args.league), processes=args.processes, limit=40 if args.quick else None)
    print(f"model grid took {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
