"""Run every benchmark and print its figures: ``python -m bench [--quick]``.

Uses its own PostgreSQL database (kickbench_bench, created if missing) and
Redis DB 13; override with BENCH_DATABASE_URL and BENCH_REDIS_URL.
"""

import argparse
import time
from pathlib import Path

from bench import env


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute or two in all")
    args = parser.parse_args()
    env.configure()
    from bench import cost, gap_detection, leaderboard, model_grid, rate_limit, throughput

    started = time.perf_counter()
    info = env.machine()
    print(f"machine: nproc {info['nproc']}, RAM {info['ram']}, CPU {info['cpu']}, Python {info['python']}, "
          f"{info['postgres_client']}")
    print("\n# 1. Gap detection")
    sizes = gap_detection.QUICK_SIZES if args.quick else gap_detection.FULL_SIZES
    gap_detection.print_report(gap_detection.run_worlds(
        sizes, worlds=tuple(gap_detection.WORLDS.values()), repeats=5 if args.quick else 9))
    print("\n# 2. Backfill throughput")
    throughput.run(throughput.QUICK if args.quick else throughput.FULL)
    print("\n# 3. Rate-limit adherence")
    rate_limit.run(rate_limit.QUICK if args.quick else rate_limit.FULL)
    print("\n# 4. Cost per match")
    cost.run()
    print("\n# 5. Leaderboard over one season")
    leaderboard.print_report(leaderboard.run(leaderboard.QUICK_SIZES if args.quick else leaderboard.FULL_SIZES))
    print("\n# 6. Model grid (walk-forward on every vendored top-league season with a warm-up)")
    model_grid.run(model_grid.grid_cells(), limit=40 if args.quick else None)
    print("\n# 7. A busy kickoff slot (live pipeline)")
    from bench import kickoff_slot

    kickoff_slot.run(kickoff_slot.QUICK if args.quick else kickoff_slot.FULL)
    print("\n# 8. Backfill throughput through faults")
    from bench import faults

    faults.run(faults.QUICK if args.quick else faults.FULL)
    print("\n# 9. Scale-out: wall time against RQ workers")
    from bench import scale_out

    # A quick pass must not overwrite the README's plot.
    scale_out.run(throughput.QUICK if args.quick else throughput.FULL,
                  plot_to=Path("var/bench/scale_out_quick.png") if args.quick else scale_out.PLOT)
    print(f"\nall benchmarks took {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
