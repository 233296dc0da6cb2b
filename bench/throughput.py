"""Benchmark 2: backfill wall time against the lower bound the external budgets impose.

Our backfill (start_backfill: RQ dependency chains, waited for in one Redis
round trip per tick) and the original research's design (each match a
sequence of stages, 2-second polling between them, 5 matches at a time;
written here only as a baseline) run the same fake world with the same
workers, one after the other.

    python -m bench.throughput [--quick] [--matches N] [--workers W] [--predict-max-workers K]
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.world import World, job_profile, llm_server, seed, workers

# PREDICT_MAX_WORKERS = the lineup size (an environment setting): with the default 8 threads a job asks
# 8 of its 42 models at a time, and 4 workers could fill only 32 of the 84 provider slots.
FULL = World(matches=100, llm_models=42, llm_latency=1.0, llm_cap=2, api_limit=300, api_window=60, workers=4,
             predict_max_workers=42)
QUICK = replace(FULL, matches=30)
BASELINE_CONCURRENCY = 5
BASELINE_POLL_SECONDS = 2.0
LOG_DIR = Path("var/bench")


def _flush_queue() -> None:
    """Empty the benchmark's Redis DB: no job, lock or rate-limit window survives from an earlier run."""
    from backfill import queueing

    queueing.get_queue().connection.flushdb()


def run_ours(world: World, match_ids: list[int]) -> dict:
    """start_backfill + wait_for_run: the product's path, timed from the plan to the last chain's end."""
    from backfill import queueing, service

    t0 = time.perf_counter()
    plan = service.plan_backfill(7)
    run = service.start_backfill(plan, triggered_by="bench")
    finished = service.wait_for_run(run, timeout=1800, tick=0.2)
    wall = time.perf_counter() - t0
    ids = [jid for item in run.items.all() for jid in item.job_ids.values()]
    return {"wall": wall, "finished": finished, "status": run.status, "gaps": len(plan.gaps),
            "profile": job_profile(queueing.get_queue(), ids)}


def run_baseline(world: World, match_ids: list[int]) -> dict:
    """The original research's design: per match analyze, then predict, then settle, each enqueued
    only after polling (every 2 s) showed the previous one finished; 5 matches at a time."""
    from rq.job import JobStatus

    from backfill import queueing

    queue = queueing.get_queue()
    todo = list(match_ids)
    lock = threading.Lock()
    failures: list[str] = []
    job_ids: list[str] = []
    stages = [("analyze", "matches.jobs.analyze_match", {}),
              ("predict", "predictions.jobs.predict_match", {"allow_retroactive": True}),
              ("settle", "predictions.jobs.settle_match", {})]

    def one_match(match_id: int) -> None:
        for stage, func, kwargs in stages:
            job = queue.enqueue(func, args=(match_id,), kwargs=kwargs, job_id=f"baseline-{stage}-{match_id}",
                                job_timeout=900, result_ttl=3600, meta={"stage": stage})
            with lock:
                job_ids.append(job.id)
            while True:
                time.sleep(BASELINE_POLL_SECONDS)
                status = job.get_status(refresh=True)
                if status == JobStatus.FINISHED:
                    break
                if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                    failures.append(f"{job.id}: {status}")
                    return

    def lane() -> None:
        while True:
            with lock:
                if not todo:
                    return
                match_id = todo.pop(0)
            one_match(match_id)

    t0 = time.perf_counter()
    lanes = [threading.Thread(target=lane) for _ in range(BASELINE_CONCURRENCY)]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
    wall = time.perf_counter() - t0
    return {"wall": wall, "finished": not failures, "status": "failed" if failures else "succeeded",
            "gaps": len(match_ids), "failures": failures[:5], "profile": job_profile(queue, job_ids)}


def verify(world: World, match_ids: list[int]) -> dict:
    """Every match complete: an analysis, one prediction per model, settled."""
    from matches.models import Match, MatchAnalysis
    from predictions.models import Prediction

    expected = world.llm_models + world.fixed_models
    predictions = Prediction.objects.filter(match_id__in=match_ids).count()
    return {
        "analyses": MatchAnalysis.objects.filter(match_id__in=match_ids).count(),
        "predictions": predictions,
        "expected_predictions": expected * len(match_ids),
        "settled": Match.objects.filter(pk__in=match_ids, settled_at__isnull=False).count(),
        "complete": predictions == expected * len(match_ids),
    }


def measure(world: World, mode: str, *, log_dir: Path = LOG_DIR) -> dict:
    """One run of ``mode`` ("ours" or "baseline") in a freshly seeded world with fresh fakes and workers."""
    from bench.world import API_KEY
    from tests.fakes.fake_api_football import FakeApiFootball

    runner = {"ours": run_ours, "baseline": run_baseline}[mode]
    _flush_queue()
    with llm_server(world) as llm_url, FakeApiFootball(
        api_key=API_KEY, minute_limit=world.api_limit, window_seconds=world.api_window, enforce_minute_limit=True,
    ) as api:
        match_ids = seed(world, llm_url)
        with workers(world, api.base_url, log_dir / mode):
            result = runner(world, match_ids)
        result["api_requests"] = api.request_count()
        result["api_rejected"] = sum(r.outcome == "rateLimit" for r in api.requests)
    result["check"] = verify(world, match_ids)
    result["mode"] = mode
    return result


def report(world: World, ours: dict, baseline: dict | None, out=print) -> dict:
    bound = world.bound
    figures = {
        "world": world.describe(),
        "api_bound_s": world.api_bound,
        "llm_bound_s": world.llm_bound,
        "bound_s": bound,
        "ours_s": ours["wall"],
        "ours_over_bound": ours["wall"] / bound,
        "baseline_s": baseline["wall"] if baseline else None,
        "baseline_over_ours": baseline["wall"] / ours["wall"] if baseline else None,
    }
    out(f"\nworld: {world.describe()}")
    out(f"work: {world.api_requests} API-Football requests, {world.llm_calls} LLM calls")
    out(f"lower bound: API {world.api_bound:.1f}s, LLM {world.llm_bound:.1f}s -> {bound:.1f}s")
    for r in (ours, baseline):
        if r is None:
            continue
        out(f"{r['mode']:>8}: {r['wall']:7.1f}s wall, {r['wall'] / bound:.2f}x the bound, status {r['status']}, "
            f"{r['api_requests']} API requests ({r['api_rejected']} rejected), check {r['check']}")
        for stage, p in sorted(r["profile"].items()):
            out(f"          {stage:>8}: {p['jobs']} jobs, mean wait in queue {p['mean_wait_s']}s, "
                f"mean run {p['mean_run_s']}s")
    if baseline:
        out(f"baseline / ours: {baseline['wall'] / ours['wall']:.2f}x")
    verdict = "met" if figures["ours_over_bound"] <= 1.15 else "MISSED"
    out(f"target ours <= 1.15x bound: {figures['ours_over_bound']:.2f}x -> {verdict}")
    return figures


def run(world: World, *, baseline: bool = True, out=print) -> dict:
    ours = measure(world, "ours")
    base = measure(world, "baseline") if baseline else None
    return {"ours": ours, "baseline": base, "figures": report(world, ours, base, out=out)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.matches} matches instead of {FULL.matches}")
    parser.add_argument("--matches", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--predict-max-workers", type=int)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    world = QUICK if args.quick else FULL
    for name in ("matches", "workers", "predict_max_workers"):
        if getattr(args, name):
            world = replace(world, **{name: getattr(args, name)})
    return run(world, baseline=not args.no_baseline)


if __name__ == "__main__":
    main()
