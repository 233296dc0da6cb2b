"""A fake world for the backfill benchmarks: fake API-Football, fake LLM providers, real workers.

Everything external is local and has a known budget, so the lower bound on a
backfill's wall time can be computed and compared with what we measure:
API-Football allows ``api_limit`` requests per ``api_window`` seconds, each
LLM model (its own provider in the fake) answers after ``llm_latency``
seconds and serves at most ``llm_cap`` requests at once (more wait in line).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.env import ROOT, database_url

API_KEY = "bench-api-football-key"


@dataclass(frozen=True)
class World:
    matches: int = 100
    llm_models: int = 42
    fixed_models: int = 0  # offline baselines, no provider budget
    llm_latency: float = 1.0
    llm_cap: int = 2
    api_limit: int = 300
    api_window: int = 60
    workers: int = 4
    predict_max_workers: int | None = None  # None: the product's default setting

    @property
    def api_requests(self) -> int:
        """Two per analysis: the season's /fixtures and /fixtures/headtohead (no history in the database)."""
        return 2 * self.matches

    @property
    def llm_calls(self) -> int:
        return self.matches * self.llm_models

    @property
    def api_bound(self) -> float:
        """Requests / allowed rate (the issue's definition)."""
        return self.api_requests / (self.api_limit / self.api_window)

    @property
    def llm_bound(self) -> float:
        """LLM calls x latency / allowed concurrency (every model its own cap)."""
        if not self.llm_models:
            return 0.0
        return self.llm_calls * self.llm_latency / (self.llm_cap * self.llm_models)

    @property
    def bound(self) -> float:
        return max(self.api_bound, self.llm_bound)

    def describe(self) -> str:
        pmw = self.predict_max_workers or "default"
        return (f"{self.matches} matches x {self.llm_models + self.fixed_models} missing predictions "
                f"({self.llm_models} LLM, {self.fixed_models} local); LLM latency {self.llm_latency:g}s, "
                f"cap {self.llm_cap}/model; API-Football {self.api_limit} req/{self.api_window}s; "
                f"{self.workers} workers; PREDICT_MAX_WORKERS {pmw}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llm_server(world: World, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """The fake LLM in a process of its own, so its threads do not compete with ours for the GIL.

    ``extra_args``: more of its options (a latency profile, an error rate).
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_llm", "--port", str(port), "--latency", str(world.llm_latency),
         "--max-concurrency", str(world.llm_cap), "--over-capacity", "wait", *extra_args],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the fake LLM server did not start") from None
                time.sleep(0.1)
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def reset_tables() -> None:
    """Empty the project's tables (the benchmark's own database, or a test's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Inside a test's transaction, deferred foreign-key checks still pending would block TRUNCATE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "TRUNCATE predictions_prediction, matches_matchanalysis, backfill_backfillitem, backfill_backfillrun, "
            "matches_match, matches_team, matches_competition, predictions_predictionmodel RESTART IDENTITY CASCADE"
        )


def seed(world: World, llm_base_url: str) -> list[int]:
    """Finished matches of the last days, each in a competition season of its own (so the analysis
    has no history in the database and asks API-Football), with no analysis and no prediction."""
    from django.utils import timezone

    from matches.models import Competition, Match, Team
    from predictions.models import PredictionModel

    reset_tables()
    models = [
        PredictionModel(
            slug=f"llm-{i}", name=f"LLM {i}", provider=PredictionModel.Provider.OPENAI_COMPATIBLE,
            config={"model": f"bench-llm-{i}", "base_url": llm_base_url, "api_key_optional": True,
                    "timeout": 120, "max_retries": 2},
        )
        for i in range(world.llm_models)
    ] + [
        PredictionModel(slug=f"fixed-{i}", name=f"Fixed {i}", provider=PredictionModel.Provider.FIXED_SCORE,
                        config={"home": i % 3, "away": (i + 1) % 2})
        for i in range(world.fixed_models)
    ]
    PredictionModel.objects.bulk_create(models)
    now = timezone.now()
    competitions = Competition.objects.bulk_create(
        Competition(external_id=7000 + i, name=f"Bench cup {i}", season=now.year) for i in range(world.matches)
    )
    teams = Team.objects.bulk_create(
        Team(external_id=80000 + i, name=f"Bench {i} FC") for i in range(2 * world.matches)
    )
    matches = Match.objects.bulk_create(
        Match(
            external_id=5_000_000 + i, competition=competitions[i], home_team=teams[2 * i], away_team=teams[2 * i + 1],
            kickoff_time=now - timedelta(hours=2 + i % 120), status=Match.Status.FINISHED, status_code="FT",
            home_score=i % 4, away_score=i % 3,
        )
        for i in range(world.matches)
    )
    return [m.pk for m in matches]


def worker_env(world: World, api_base_url: str, **extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "API_FOOTBALL_BASE_URL": api_base_url,
        "API_FOOTBALL_KEY": API_KEY,
        "API_FOOTBALL_REQUESTS_PER_MINUTE": str(world.api_limit),
        "API_FOOTBALL_RATE_WINDOW_SECONDS": str(world.api_window),
        "BACKFILL_RETRY_BASE_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("DJANGO_TEST_DB_NAME", None)
    if world.predict_max_workers:
        env["PREDICT_MAX_WORKERS"] = str(world.predict_max_workers)
    return env


def start_worker(env: dict[str, str], log_path: Path, queue: str = "backfill") -> subprocess.Popen:
    """One real forking RQ worker (with the scheduler), in a process group of its own."""
    log = open(log_path, "a")  # noqa: SIM115 - the child holds it; closed when the child exits
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", queue, "--with-scheduler", "--name",
         f"bench-{os.getpid()}-{log_path.stem}-{time.monotonic_ns()}", "--worker-class", "config.worker.DjangoWorker"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_for_workers(queue, count: int, log_dir: Path) -> None:
    from rq import Worker

    deadline = time.monotonic() + 60
    while Worker.count(queue=queue) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start; see {log_dir}")
        time.sleep(0.1)


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def workers(world: World, api_base_url: str, log_dir: Path, queue_name: str = "backfill",
            **extra_env: str) -> Iterator[list[subprocess.Popen]]:
    """W real forking RQ workers on ``queue_name``, ready before the clock starts."""
    import django_rq

    log_dir.mkdir(parents=True, exist_ok=True)
    env = worker_env(world, api_base_url, **extra_env)
    procs = []
    for i in range(world.workers):
        path = log_dir / f"worker-{i}.log"
        path.write_text("")
        procs.append(start_worker(env, path, queue_name))
    try:
        wait_for_workers(django_rq.get_queue(queue_name), world.workers, log_dir)
        yield procs
    finally:
        stop_workers(procs)


def job_profile(queue, job_ids: list[str]) -> dict:
    """Where the time went, per stage: jobs, mean queue wait and mean run time (from RQ's own timestamps)."""
    from rq.job import Job

    stages: dict[str, dict] = {}
    jobs = [j for j in Job.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer) if j]
    for job in jobs:
        stage = (job.meta or {}).get("stage") or job.func_name.rsplit(".", 1)[-1]
        entry = stages.setdefault(stage, {"jobs": 0, "wait": 0.0, "run": 0.0})
        entry["jobs"] += 1
        if job.started_at and job.enqueued_at:
            entry["wait"] += max(0.0, (job.started_at - job.enqueued_at).total_seconds())
        if job.ended_at and job.started_at:
            entry["run"] += (job.ended_at - job.started_at).total_seconds()
    for entry in stages.values():
        entry["mean_wait_s"] = round(entry.pop("wait") / max(entry["jobs"], 1), 3)
        entry["mean_run_s"] = round(entry.pop("run") / max(entry["jobs"], 1), 3)
    return stages


def max_in_window(times: list[float], window: float) -> int:
    """The most requests inside any sliding window of ``window`` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
