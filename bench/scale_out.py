"""Benchmark: the throughput bench's backfill (ours only) with 1, 2, 4, 8 and 16 RQ workers.

Each worker count runs in a freshly seeded world with fresh fakes; the wall time is plotted
against workers (``bench/scale_out.png``, needs the ``bench`` extra: matplotlib) with the bound
the external budgets impose, which no worker count can beat.

    python -m bench.scale_out [--quick] [--workers 1,2,4,8,16] [--matches N] [--plot PATH]
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import replace
from pathlib import Path

from bench import throughput
from bench.world import World

WORKER_COUNTS = (1, 2, 4, 8, 16)
PLOT = Path(__file__).resolve().parent / "scale_out.png"


class ConnectionPeak(threading.Thread):
    """The most backends connected to the benchmark's database at once, sampled every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        from bench.env import database_url

        with psycopg.connect(database_url().replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            while not self.stop.wait(0.2):
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                self.peak = max(self.peak, row.fetchone()[0])


def measure(world: World, counts: tuple[int, ...] = WORKER_COUNTS) -> list[dict]:
    rows = []
    for count in counts:
        sampler = ConnectionPeak()
        sampler.start()
        try:
            result = throughput.measure(replace(world, workers=count), "ours")
        finally:
            sampler.stop.set()
            sampler.join()
        rows.append({"workers": count, "wall_s": result["wall"], "finished": result["finished"],
                     "db_connections_peak": sampler.peak,
                     "status": result["status"], "complete": result["check"]["complete"],
                     "settled": result["check"]["settled"], "api_rejected": result["api_rejected"],
                     "profile": result["profile"]})
    return rows


def report(world: World, rows: list[dict], out=print) -> dict:
    bound = world.bound
    out(f"\nworld: {world.describe().rsplit(';', 2)[0]}; bound {bound:.1f}s "
        f"(API {world.api_bound:.1f}s, LLM {world.llm_bound:.1f}s)")
    out("workers | wall | / bound | speed-up over the first | predict run (mean) | DB connections (peak) | complete")
    first = rows[0]["wall_s"]
    for r in rows:
        predict = r["profile"].get("predict", {}).get("mean_run_s")
        out(f"{r['workers']:>7} | {r['wall_s']:6.1f}s | {r['wall_s'] / bound:5.2f}x | "
            f"{first / r['wall_s']:5.2f}x | {predict}s | {r['db_connections_peak']} | {r['complete']}")
    return {"bound_s": bound, "rows": [{k: r[k] for k in ("workers", "wall_s", "complete", "settled",
                                                                "db_connections_peak")} for r in rows]}


def plot(world: World, rows: list[dict], path: Path = PLOT) -> Path:
    """Wall time against workers, log2 x axis, with the bound; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    counts = [r["workers"] for r in rows]
    ax.plot(counts, [r["wall_s"] for r in rows], marker="o", label="ours (start_backfill + wait_for_run)")
    ax.axhline(world.bound, color="grey", linestyle="--", label=f"bound {world.bound:.0f} s (API, LLM slots)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("RQ workers")
    ax.set_ylabel("wall time (s)")
    ax.set_title(f"Backfill {world.matches} x {world.llm_models} on 2 cores: wall time vs workers", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run(world: World, counts: tuple[int, ...] = WORKER_COUNTS, *, plot_to: Path | None = PLOT, out=print) -> dict:
    rows = measure(world, counts)
    figures = report(world, rows, out=out)
    if plot_to is not None:
        plot_to.parent.mkdir(parents=True, exist_ok=True)
        out(f"plot: {plot(world, rows, plot_to)}")
    return {"rows": rows, "figures": figures}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{throughput.QUICK.matches} matches")
    parser.add_argument("--workers", default=",".join(map(str, WORKER_COUNTS)))
    parser.add_argument("--matches", type=int)
    parser.add_argument("--plot", type=Path, default=PLOT)
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    world = throughput.QUICK if args.quick else throughput.FULL
    if args.matches:
        world = replace(world, matches=args.matches)
    return run(world, tuple(int(c) for c in args.workers.split(",")), plot_to=args.plot)["figures"]


if __name__ == "__main__":
    main()
