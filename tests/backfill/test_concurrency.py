"""Concurrency and crash claims, proven with real processes on PostgreSQL and Redis."""

import json

import pytest
from rq.job import Job
from rq.registry import StartedJobRegistry

from backfill import queueing, service
from backfill.models import BackfillRun
from backfill.services import waiting
from predictions.models import Prediction
from predictions.scoring import calculate_quotas, score_prediction
from tests.backfill.processes import kill_worker_and_horse, run_command, start_worker, stop, wait_until
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory
from tests.fakes.fake_llm import FakeLLMServer, good

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _expected_points(match) -> dict[int, int]:
    preds = list(Prediction.objects.filter(match=match))
    quotas = calculate_quotas((p.predicted_home, p.predicted_away) for p in preds)
    return {
        p.pk: score_prediction(p.predicted_home, p.predicted_away, match.home_score, match.away_score, quotas).total
        for p in preds
    }


def _slow_llm_model(llm: FakeLLMServer):
    """An LLM model answering 1-1 after 6 s (so a worker can be killed mid-call), no provider retries."""
    llm.configure("slow-llm", default=good(1, 1), latency=6.0)
    return PredictionModelFactory(
        slug="slow-llm", provider="openai_compatible",
        config={"model": "slow-llm", "base_url": llm.base_url, "api_key_optional": True, "timeout": 30,
                "max_retries": 0},
    )


def test_two_commands_at_once_with_two_workers_create_and_score_everything_once(redis_conn):
    with FakeLLMServer(api_key=None, latency=0.0) as llm:
        # One model answering in 1 s: 8 matches over 2 workers take seconds, so the commands overlap.
        llm.configure("steady-llm", default=good(1, 1), latency=1.0)
        models = [
            PredictionModelFactory(slug=f"fixed-{h}-{a}", provider="fixed_score", config={"home": h, "away": a})
            for h, a in [(2, 1), (1, 1), (0, 2), (1, 0)]
        ] + [PredictionModelFactory(
            slug="steady-llm", provider="openai_compatible",
            config={"model": "steady-llm", "base_url": llm.base_url, "api_key_optional": True, "timeout": 30},
        )]
        matches = []
        for i in range(8):
            match = MatchFactory(finished=True, home_score=i % 3, away_score=1)
            if i % 2:
                MatchAnalysisFactory(match=match)
            if i % 3 == 0:
                PredictionFactory(match=match, model=models[0], predicted_home=2, predicted_away=1)
            matches.append(match)
        workers = [start_worker(f"w{i}") for i in range(2)]
        try:
            commands = [run_command("backfill_retroactive", "--days", "7", "--json", "--timeout", "120")
                        for _ in range(2)]
            outputs = [c.communicate(timeout=180) for c in commands]
        finally:
            logs = [stop(w) for w in workers]
    for command, (_, err) in zip(commands, outputs, strict=True):
        assert command.returncode == 0, f"{err[-3000:]}\n{[log[-3000:] for log in logs]}"
    first, second = BackfillRun.objects.order_by("created_at")
    assert second.created_at < first.finished_at, "the two runs did not overlap"
    summaries = [json.loads(out) for out, _ in outputs]
    assert sum(s["predictions_created"] for s in summaries) == 8 * 5 - 3
    assert llm.count("steady-llm") == 8  # each match asked once, whichever run enqueued it
    for match in matches:
        match.refresh_from_db()
        preds = Prediction.objects.filter(match=match)
        assert preds.count() == 5
        assert set(preds.values_list("status", flat=True)) == {"scored"}
        assert dict(preds.values_list("pk", "total_points")) == _expected_points(match)
    assert BackfillRun.objects.filter(status="succeeded").count() == 2


def test_worker_killed_mid_predict_match_then_next_run_completes_without_duplicates(redis_conn, settings):
    # Retries without delay: the dead worker's scheduler lock would otherwise hold scheduled retries ~60 s.
    settings.BACKFILL_RETRY_BASE_SECONDS = 0
    grace = {"RQ_HEARTBEAT_GRACE_SECONDS": "2", "RQ_JOB_MONITORING_INTERVAL": "1"}
    with FakeLLMServer(api_key=None, latency=0.0) as llm:
        PredictionModelFactory(slug="always-2-1", provider="fixed_score", config={"home": 2, "away": 1})
        _slow_llm_model(llm)
        match = MatchFactory(finished=True, home_score=1, away_score=1)
        MatchAnalysisFactory(match=match)

        first = service.start_backfill(service.plan_backfill(7), triggered_by="first")
        job_id = f"predict-retro-{match.pk}"
        victim = start_worker("victim", **grace)
        try:
            # The request is logged on arrival; the reply takes 6 s, so the job is mid-call when killed.
            assert wait_until(lambda: llm.count("slow-llm") == 1, timeout=60)
            assert Job.fetch(job_id, connection=redis_conn).get_status() == "started"
        finally:
            kill_worker_and_horse(victim)
        assert Job.fetch(job_id, connection=redis_conn).get_status() == "started"  # nobody knows it died yet
        assert not Prediction.objects.exists()

        registry = StartedJobRegistry(queue=queueing.get_queue())
        assert wait_until(lambda: any(j.startswith(job_id) for j in registry.get_expired_job_ids()), timeout=15)
        rescuer = start_worker("rescuer", **grace)
        try:
            second = service.start_backfill(service.plan_backfill(7), triggered_by="second")
            assert service.wait_for_run(second, timeout=60)
            assert service.wait_for_run(first, timeout=60)
        finally:
            stop(rescuer)
    preds = Prediction.objects.filter(match=match)
    assert preds.count() == 2 and preds.filter(model__slug="slow-llm").count() == 1
    assert set(preds.values_list("status", flat=True)) == {"scored"}
    assert llm.count("slow-llm") == 2  # the killed attempt and the one that completed


def test_a_run_waiting_on_a_killed_workers_job_recovers_it_itself(redis_conn, settings, monkeypatch):
    """The command that started the run keeps waiting: it must not need a second run, nor the
    surviving workers' own clean-up (every 10 minutes), to see the dead job through."""
    settings.BACKFILL_RETRY_BASE_SECONDS = 0
    monkeypatch.setattr(waiting, "RECOVER_EVERY_SECONDS", 1.0)
    grace = {"RQ_HEARTBEAT_GRACE_SECONDS": "2", "RQ_JOB_MONITORING_INTERVAL": "1"}
    with FakeLLMServer(api_key=None, latency=0.0) as llm:
        _slow_llm_model(llm)
        match = MatchFactory(finished=True, home_score=1, away_score=1)
        MatchAnalysisFactory(match=match)

        run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
        victim = start_worker("victim", **grace)
        try:
            assert wait_until(lambda: llm.count("slow-llm") == 1, timeout=60)
        finally:
            kill_worker_and_horse(victim)
        # Started at once, so its start-up clean-up comes before the dead job's heartbeat expires.
        rescuer = start_worker("rescuer", **grace)
        try:
            assert service.wait_for_run(run, timeout=60, tick=0.2)
        finally:
            stop(rescuer)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert Prediction.objects.filter(match=match, status="scored").count() == 1
    assert llm.count("slow-llm") == 2
