"""Benchmark 4: cost per match. SQL queries of predict_match and settle_match (5 vs 42 models), what
the prediction summary's triggers add to writing and settling a match's predictions, Redis round trips
per enqueued chain, and the backfill command's peak memory on a dry run.

    python -m bench.cost [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

from bench.env import ROOT, database_url

MODEL_COUNTS = (5, 42)
MEMORY_GAPS = (10, 5000)
CHAINS = 20


def _seed_match(models: int, *, with_predictions: bool) -> int:
    """A finished match with its analysis and ``models`` local fixed-score models (no HTTP)."""
    from django.utils import timezone

    from bench.world import reset_tables
    from matches.models import Competition, Match, MatchAnalysis, Team
    from predictions.models import Prediction, PredictionModel

    reset_tables()
    pms = PredictionModel.objects.bulk_create(
        PredictionModel(slug=f"fixed-{i}", name=f"Fixed {i}", provider=PredictionModel.Provider.FIXED_SCORE,
                        config={"home": i % 4, "away": i % 3})
        for i in range(models)
    )
    competition = Competition.objects.create(external_id=900, name="Cost cup", season=2026)
    home, away = Team.objects.create(name="Home", external_id=1), Team.objects.create(name="Away", external_id=2)
    match = Match.objects.create(
        external_id=1, competition=competition, home_team=home, away_team=away, status=Match.Status.FINISHED,
        kickoff_time=timezone.now() - timedelta(hours=3), home_score=2, away_score=1,
    )
    analysis = MatchAnalysis.objects.create(match=match, as_of=match.kickoff_time, data={"schema": 1, "history": []})
    if with_predictions:
        Prediction.objects.bulk_create(
            Prediction(match=match, model=pm, analysis=analysis, predicted_home=i % 4, predicted_away=i % 3)
            for i, pm in enumerate(pms)
        )
    return match.pk


def _queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def query_counts(model_counts: tuple[int, ...] = MODEL_COUNTS) -> dict[str, dict[int, int]]:
    """Queries of one predict_match (every model missing) and one settle_match (every model predicted)."""
    from predictions import jobs

    counts: dict[str, dict[int, int]] = {"predict_match": {}, "settle_match": {}}
    for n in model_counts:
        match_id = _seed_match(n, with_predictions=False)
        counts["predict_match"][n] = _queries(lambda m=match_id: jobs.predict_match(m, allow_retroactive=True))
        match_id = _seed_match(n, with_predictions=True)
        counts["settle_match"][n] = _queries(lambda m=match_id: jobs.settle_match(m))
    return counts


SUMMARY_TRIGGERS = ("prediction_summary_insert", "prediction_summary_update", "prediction_summary_delete")


def _set_summary_triggers(enabled: bool) -> None:
    from django.db import connection

    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for name in SUMMARY_TRIGGERS:
            cursor.execute(f"ALTER TABLE predictions_prediction {verb} TRIGGER {name}")


def trigger_cost(models: int = 42, repeats: int = 15) -> dict[str, float]:
    """What the prediction summary's triggers add to the write path (PostgreSQL): one match's predictions
    inserted as ``predict_match`` does (one ``INSERT ... ON CONFLICT DO NOTHING``), then settled; each
    timed with the triggers on and off, alternating in one run; medians in ms. ``ALTER TABLE ... DISABLE
    TRIGGER`` holds for every session: run it on the benchmark's own database only, as ``bench.env`` does."""
    from django.db import connection

    from predictions.models import Prediction
    from predictions.services.match_summary import repair_summary
    from predictions.services.settlement import settle_match

    def sample(enabled: bool) -> tuple[float, float]:
        match_id = _seed_match(models, with_predictions=False)
        rows = [Prediction(match_id=match_id, model_id=pk, predicted_home=i % 4, predicted_away=i % 3)
                for i, pk in enumerate(_model_ids())]
        _set_summary_triggers(enabled)
        try:
            started = time.perf_counter()
            Prediction.objects.bulk_create(rows, ignore_conflicts=True)
            inserted = time.perf_counter()
            settle_match(match_id)
            return (inserted - started) * 1000, (time.perf_counter() - inserted) * 1000
        finally:
            _set_summary_triggers(True)
            repair_summary(lo=match_id, hi=match_id)  # what the triggers missed while off

    if connection.vendor != "postgresql":
        raise RuntimeError("the prediction summary's triggers exist on PostgreSQL only")
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i in range(repeats * 2 + 2):
        enabled = i % 2 == 0
        t = sample(enabled)
        if i >= 2:  # one warm-up each
            times[enabled].append(t)
    out: dict[str, float] = {"models": models}
    for enabled, label in ((True, "with"), (False, "without")):
        out[f"insert_{label}_triggers_ms"] = statistics.median(t[0] for t in times[enabled])
        out[f"settle_{label}_triggers_ms"] = statistics.median(t[1] for t in times[enabled])
    return out


def _model_ids() -> list[int]:
    from predictions.models import PredictionModel

    return list(PredictionModel.objects.order_by("pk").values_list("pk", flat=True))


@contextlib.contextmanager
def redis_round_trips() -> Iterator[list[int]]:
    """Count every request sent to Redis (a pipeline is one) by wrapping redis-py's connection."""
    from redis.connection import AbstractConnection

    counter = [0]
    original = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        counter[0] += 1
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = counting
    try:
        yield counter
    finally:
        AbstractConnection.send_packed_command = original


def round_trips_per_chain(chains: int = CHAINS) -> dict[str, float]:
    """Enqueue ``chains`` three-stage chains (analyze -> predict -> settle), then re-enqueue them (in flight)."""
    from backfill import queueing
    from backfill.selectors import Stage

    queue = queueing.get_queue()
    queue.connection.flushdb()
    queue.connection.ping()  # connect before counting
    with redis_round_trips() as fresh:
        for match_id in range(1, chains + 1):
            queueing.enqueue_chain(queue, match_id, Stage.ORDER)
    with redis_round_trips() as again:
        for match_id in range(1, chains + 1):
            queueing.enqueue_chain(queue, match_id, Stage.ORDER)
    queue.connection.flushdb()
    return {"new_chain": fresh[0] / chains, "chain_in_flight": again[0] / chains}


def _seed_gaps(gaps: int, models: int = 42) -> None:
    """``gaps`` finished matches of the last days with no prediction at all, written set-based."""
    from django.db import connection

    from bench.world import reset_tables

    reset_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO predictions_predictionmodel (slug, name, provider, config, is_active, inactive_reason, "
            "consecutive_failures, last_error, created_at, updated_at) SELECT 'fixed-' || k, 'Fixed ' || k, "
            "'fixed_score', '{\"home\": 1, \"away\": 0}', true, '', 0, '', now(), now() "
            "FROM generate_series(1, %s) k", (models,))
        cursor.execute("INSERT INTO matches_competition (external_id, code, name, country, season, created_at, "
                       "updated_at, result_rule) VALUES (901, '', 'Memory cup', '', 2026, now(), now(), 'after_90')")
        cursor.execute("INSERT INTO matches_team (external_id, name, created_at) VALUES (1, 'A', now()), "
                       "(2, 'B', now())")
        cursor.execute(
            "INSERT INTO matches_match (external_id, kickoff_time, status, status_code, home_score, away_score, "
            "round, created_at, updated_at, competition_id, home_team_id, away_team_id) "
            "SELECT 2000000 + g, now() - make_interval(secs => 3600 + g * 60.0), 'finished', 'FT', 1, 0, '', "
            "now(), now(), (SELECT MIN(id) FROM matches_competition), (SELECT MIN(id) FROM matches_team), "
            "(SELECT MAX(id) FROM matches_team) FROM generate_series(1, %s) g", (gaps,))


_CHILD = """
import json, os, resource, sys, tracemalloc
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.core.management import call_command
tracemalloc.start()
with open(os.devnull, "w") as sink:
    call_command("backfill_retroactive", "--days", "7", "--dry-run", "--json", stdout=sink, stderr=sink)
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"tracemalloc_peak_kb": peak // 1024,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def command_memory(gaps: int) -> dict[str, int]:
    """Peak memory of ``backfill_retroactive --days 7 --dry-run --json`` in a fresh process over ``gaps`` gaps."""
    import os

    from django.conf import settings

    _seed_gaps(gaps)
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL, "LOG_LEVEL": "WARNING"}
    env.pop("DJANGO_TEST_DB_NAME", None)
    done = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(*, model_counts: tuple[int, ...] = MODEL_COUNTS, memory_gaps: tuple[int, ...] = MEMORY_GAPS,
        chains: int = CHAINS, out=print) -> dict:
    counts = query_counts(model_counts)
    triggers = trigger_cost()
    trips = round_trips_per_chain(chains)
    memory = {n: command_memory(n) for n in memory_gaps}
    out("\nSQL queries per job (every model missing / every model predicted):")
    for job, by_n in counts.items():
        constant = len(set(by_n.values())) == 1
        cells = ", ".join(f"{n} models: {q}" for n, q in by_n.items())
        out(f"  {job}: {cells} -> {'constant' if constant else 'GROWS with the number of models'}")
    out(f"One match's {triggers['models']} predictions, with the prediction summary's triggers (without): "
        f"insert {triggers['insert_with_triggers_ms']:.2f} ms ({triggers['insert_without_triggers_ms']:.2f}), "
        f"settle {triggers['settle_with_triggers_ms']:.2f} ms ({triggers['settle_without_triggers_ms']:.2f})")
    out(f"Redis round trips per enqueued chain (3 jobs): {trips['new_chain']:.1f} new, "
        f"{trips['chain_in_flight']:.1f} when already in flight")
    out("backfill_retroactive --days 7 --dry-run --json, peak memory:")
    for n, m in memory.items():
        out(f"  {n:>5} gaps: tracemalloc peak {m['tracemalloc_peak_kb'] / 1024:.1f} MiB, "
            f"max RSS {m['maxrss_kb'] / 1024:.1f} MiB")
    return {"queries": counts, "summary_triggers": triggers, "redis_round_trips": trips, "memory": memory}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no changes: this benchmark is quick anyway")
    parser.parse_args(argv)
    from bench import env

    env.configure()
    return run()


if __name__ == "__main__":
    main()
