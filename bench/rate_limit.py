"""Benchmark 3: API-Football budget adherence and utilisation, read from the fake API's request log.

An API-bound world (every match needs an analysis from the API, one fast
local model) with 2 workers and two backfill commands started at the same
moment. The provider's window is shortened with API_FOOTBALL_RATE_WINDOW_SECONDS
(the client and the fake use the same window) so several windows pass in a
minute; the client widens its own window by a 1-second margin.

    python -m bench.rate_limit [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.env import ROOT
from bench.world import API_KEY, World, max_in_window, seed, worker_env, workers

FULL = World(matches=60, llm_models=0, fixed_models=1, api_limit=30, api_window=15, workers=2)
QUICK = replace(FULL, matches=20, api_limit=10, api_window=5)
LOG_DIR = Path("var/bench/rate_limit")


def utilisation(times: list[float], limit: int, window: float) -> float | None:
    """Requests sent / requests the budget allowed while the backfill was busy: from the first request
    to the last plus the window that last one opened (``limit`` per ``window``). None without requests."""
    if not times:
        return None
    span = max(times) - min(times)
    return len(times) / (limit * (span + window) / window)


def run(world: World, *, runs: int = 2, out=print) -> dict:
    from backfill import queueing
    from tests.fakes.fake_api_football import FakeApiFootball

    queueing.get_queue().connection.flushdb()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with FakeApiFootball(api_key=API_KEY, minute_limit=world.api_limit, window_seconds=world.api_window,
                         enforce_minute_limit=True) as api:
        match_ids = seed(world, "http://127.0.0.1:9/unused")
        with workers(world, api.base_url, LOG_DIR):
            env = worker_env(world, api.base_url)
            t0 = time.perf_counter()
            commands = [
                subprocess.Popen(
                    [sys.executable, "manage.py", "backfill_retroactive", "--days", "7", "--json", "--timeout", "900",
                     "--report", str((LOG_DIR / f"report-{i}.json").resolve())],
                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )
                for i in range(runs)
            ]
            outputs = [c.communicate(timeout=1200) for c in commands]
            wall = time.perf_counter() - t0
        log = api.requests
    codes = [c.returncode for c in commands]
    summaries = []
    for (stdout, stderr), code in zip(outputs, codes, strict=True):
        try:
            summaries.append(json.loads(stdout))
        except ValueError:
            summaries.append({"error": f"exit {code}: {stderr[-500:]}"})
    times = [r.time for r in log if r.path != "status"]
    peak = max_in_window(times, world.api_window)
    use = utilisation(times, world.api_limit, world.api_window)
    result = {
        "world": world.describe(),
        "runs": runs,
        "exit_codes": codes,
        "wall_s": wall,
        "matches": len(match_ids),
        "api_requests": len(times),
        "expected_requests": world.api_requests,
        "rejected": sum(r.outcome == "rateLimit" for r in log),
        "budget": world.api_limit,
        "window_s": world.api_window,
        "max_in_window": peak,
        "utilisation": use,
        "created": [s.get("predictions_created") for s in summaries],
        "in_flight": [s.get("already_in_flight") for s in summaries],
    }
    out(f"\nworld: {world.describe()}; {runs} backfill commands started at once")
    out(f"API requests: {len(times)} (expected {world.api_requests}: 2 per analysis, none twice), "
        f"rejected by the provider: {result['rejected']}; commands exited {codes} in {wall:.1f}s")
    out(f"most requests in any sliding {world.api_window}s window: {peak} (budget {world.api_limit}) -> "
        f"{'within budget' if peak <= world.api_limit else 'OVER BUDGET'}")
    if use is not None:
        out(f"budget utilisation while API-bound: {use:.1%} (target >= 90%; the client's 1 s window margin "
            f"caps it at {world.api_window / (world.api_window + 1):.1%} with a {world.api_window}s window) -> "
            f"{'met' if use >= 0.9 else 'MISSED'}")
    out(f"predictions created per command: {result['created']}, chains found in flight: {result['in_flight']}")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    return run(QUICK if args.quick else FULL)


if __name__ == "__main__":
    main()
