"""Benchmark: the backfill of bench/throughput.py's world while things fail.

During a 100 x 42 backfill: 5% of LLM calls answer HTTP 500 (seeded draws, answered at once);
API-Football answers every request with a bare 503 for 60 s; one worker is SIGKILLed (with its work
horse) in the middle of a predict job and a new one started. The wall time is compared with the fault-free
lower bound plus the outage.

    python -m bench.faults [--quick] [--matches N] [--outage S]
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench import throughput
from bench.world import API_KEY, World, job_profile, llm_server, seed, start_worker, wait_for_workers, worker_env
from tests.backfill.processes import kill_worker_and_horse

LOG_DIR = Path("var/bench/faults")


@dataclass(frozen=True)
class Faults:
    world: World = throughput.FULL
    error_rate: float = 0.05
    outage_s: float = 60.0
    outage_at_s: float = 5.0  # after the start of the backfill
    kill_after_s: float = 20.0  # the first worker seen in a predict job after this is killed mid-way
    seed: int = 5

    def describe(self) -> str:
        return (f"{self.world.describe()}; {self.error_rate:.0%} of LLM calls answer 500; API-Football down "
                f"{self.outage_s:g}s from t={self.outage_at_s:g}s; a worker SIGKILLed mid predict job "
                f"after t={self.kill_after_s:g}s and restarted")

    @property
    def bound(self) -> float:
        return self.world.bound + self.outage_s


FULL = Faults()
QUICK = replace(FULL, world=throughput.QUICK, outage_s=30.0)


class Chaos(threading.Thread):
    """Takes API-Football down on time and kills a worker in the middle of a job, then replaces it."""

    def __init__(self, faults: Faults, api, procs: list, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(daemon=True)
        self.faults, self.api, self.procs, self.env, self.log_dir = faults, api, procs, env, log_dir
        self.t0 = time.monotonic()
        self.events: list[str] = []
        self.killed_job: str | None = None
        self.stop = threading.Event()

    def _at(self, seconds: float) -> bool:
        return not self.stop.wait(max(0.0, self.t0 + seconds - time.monotonic()))

    def _busy_job(self, name: str) -> str | None:
        from rq import Worker

        from backfill import queueing

        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name,
                                    connection=queueing.get_queue().connection)
        return worker.get_current_job_id() if worker is not None else None

    def _kill_a_worker(self) -> None:
        """The first worker seen in a predict job (its LLM calls half done: work is lost) is killed."""
        while not self.stop.is_set():
            for i, proc in enumerate(self.procs):
                job_id = self._busy_job(proc.args[proc.args.index("--name") + 1])
                if job_id and job_id.startswith("predict-"):
                    time.sleep(0.3)  # in the middle of it, not at its first line
                    kill_worker_and_horse(proc)  # RQ gives the horse a session of its own
                    self.killed_job = job_id
                    self.events.append(f"t={time.monotonic() - self.t0:.1f}s SIGKILL worker {i} during {job_id}")
                    self.procs[i] = start_worker(self.env, self.log_dir / f"worker-{i}-restarted.log")
                    self.events.append(f"t={time.monotonic() - self.t0:.1f}s worker {i} restarted")
                    return
            time.sleep(0.05)

    def run(self) -> None:
        order = sorted([(self.faults.outage_at_s, "outage"), (self.faults.kill_after_s, "kill")])
        for at, what in order:
            if not self._at(at):
                return
            if what == "outage":
                self.api.go_down(self.faults.outage_s)
                self.events.append(f"t={time.monotonic() - self.t0:.1f}s API-Football down for "
                                   f"{self.faults.outage_s:g}s")
            else:
                self._kill_a_worker()


def _duplicates(match_ids: list[int]) -> int:
    from predictions.models import Prediction

    rows = list(Prediction.objects.filter(match_id__in=match_ids).values_list("match_id", "model_id"))
    return len(rows) - len(set(rows))


def measure(faults: Faults, *, log_dir: Path = LOG_DIR) -> dict:
    from backfill import queueing, service
    from backfill.models import BackfillItem
    from tests.fakes.fake_api_football import FakeApiFootball

    world = faults.world
    queueing.get_queue().connection.flushdb()
    log_dir.mkdir(parents=True, exist_ok=True)
    server_args = ("--error-rate", str(faults.error_rate), "--seed", str(faults.seed))
    with llm_server(world, server_args) as llm_url, FakeApiFootball(
        api_key=API_KEY, minute_limit=world.api_limit, window_seconds=world.api_window, enforce_minute_limit=True,
    ) as api:
        match_ids = seed(world, llm_url)
        env = worker_env(world, api.base_url)
        procs = []
        for i in range(world.workers):
            (log_dir / f"worker-{i}.log").write_text("")
            procs.append(start_worker(env, log_dir / f"worker-{i}.log"))
        try:
            wait_for_workers(queueing.get_queue(), world.workers, log_dir)
            t0 = time.perf_counter()
            plan = service.plan_backfill(7)
            run = service.start_backfill(plan, triggered_by="bench-faults")
            chaos = Chaos(faults, api, procs, env, log_dir)
            chaos.t0 = time.monotonic()
            chaos.start()
            finished = service.wait_for_run(run, timeout=1800, tick=0.2)
            wall = time.perf_counter() - t0
            chaos.stop.set()
            chaos.join(timeout=10)
        finally:
            from bench.world import stop_workers

            stop_workers(procs)
        api_down = sum(r.outcome == "down" for r in api.requests)
    run.refresh_from_db()
    items = list(run.items.all())
    ids = [jid for item in items for jid in item.job_ids.values()]
    check = throughput.verify(world, match_ids)
    return {"wall": wall, "finished": finished, "status": run.status, "events": chaos.events,
            "killed_job": chaos.killed_job, "api_down_answers": api_down,
            "items": len(items), "items_done": sum(i.status == BackfillItem.Status.SUCCEEDED for i in items),
            "duplicates": _duplicates(match_ids), "check": check,
            "profile": job_profile(queueing.get_queue(), ids)}


def report(faults: Faults, result: dict, out=print) -> dict:
    ratio = result["wall"] / faults.bound
    out(f"\nfaults: {faults.describe()}")
    for event in result["events"]:
        out(f"  {event}")
    out(f"API-Football answered {result['api_down_answers']} requests with 503 during the outage")
    out(f"items {result['items_done']}/{result['items']} succeeded, status {result['status']}, "
        f"{result['duplicates']} duplicates, check {result['check']}")
    for stage, p in sorted(result["profile"].items()):
        out(f"  {stage:>8}: {p['jobs']} jobs, mean wait in queue {p['mean_wait_s']}s, mean run {p['mean_run_s']}s")
    out(f"wall {result['wall']:.1f}s vs fault-free bound {faults.world.bound:.1f}s + outage {faults.outage_s:g}s "
        f"= {faults.bound:.1f}s: {ratio:.2f}x")
    met = ratio <= 1.25 and result["items_done"] == result["items"] and result["duplicates"] == 0
    out(f"target <= 1.25x, every item done, no duplicates: {'met' if met else 'MISSED'}")
    return {"wall_s": result["wall"], "bound_s": faults.bound, "ratio": ratio, "items": result["items"],
            "items_done": result["items_done"], "duplicates": result["duplicates"]}


def run(faults: Faults, out=print) -> dict:
    result = measure(faults)
    return {"result": result, "figures": report(faults, result, out=out)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.world.matches} matches, a shorter outage")
    parser.add_argument("--matches", type=int)
    parser.add_argument("--outage", type=float)
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    faults = QUICK if args.quick else FULL
    if args.matches:
        faults = replace(faults, world=replace(faults.world, matches=args.matches))
    if args.outage:
        faults = replace(faults, outage_s=args.outage)
    return run(faults)["figures"]


if __name__ == "__main__":
    main()
