"""Two ticks and a backfill at once, in real processes with real workers: no duplicate job, prediction or point."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from predictions.models import Prediction
from predictions.scoring import calculate_quotas, score_prediction
from tests.backfill.processes import ROOT, child_env, run_command, stop
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory
from tests.fakes.fake_llm import FakeLLMServer, good

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _worker(name: str) -> subprocess.Popen:
    """A real forking worker on both queues, live first."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "backfill", "--with-scheduler", "--name", name,
         "--worker-class", "config.worker.DjangoWorker"],
        cwd=ROOT, env=child_env(API_FOOTBALL_KEY=""), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )


def _points_agree(match) -> bool:
    preds = list(Prediction.objects.filter(match=match))
    quotas = calculate_quotas((p.predicted_home, p.predicted_away) for p in preds)
    return all(
        p.total_points == score_prediction(p.predicted_home, p.predicted_away, match.home_score, match.away_score,
                                           quotas).total
        for p in preds
    )


def test_two_ticks_and_a_backfill_at_once_leave_no_duplicate(redis_conn, settings):
    with FakeLLMServer(api_key=None, latency=0.0) as llm:
        llm.configure("steady-llm", default=good(1, 1), latency=1.0)
        models = [PredictionModelFactory(slug=f"fixed-{h}-{a}", provider="fixed_score", config={"home": h, "away": a})
                  for h, a in [(2, 1), (0, 2)]]
        models.append(PredictionModelFactory(
            slug="steady-llm", provider="openai_compatible",
            config={"model": "steady-llm", "base_url": llm.base_url, "api_key_optional": True, "timeout": 30},
        ))
        soon = timezone.now() + timedelta(minutes=20)
        upcoming = [MatchFactory(kickoff_time=soon + timedelta(minutes=i)) for i in range(4)]
        played = []
        for i in range(4):
            match = MatchFactory(finished=True, home_score=i % 3, away_score=1)
            MatchAnalysisFactory(match=match)
            PredictionFactory(match=match, model=models[0], predicted_home=2, predicted_away=1)
            played.append(match)
        workers = [_worker(f"w{i}") for i in range(2)]
        try:
            env = {"API_FOOTBALL_KEY": ""}
            commands = [
                subprocess.Popen([sys.executable, "manage.py", "run_pipeline", "--once", "--json"], cwd=ROOT,
                                 env=child_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)
            ] + [run_command("backfill_retroactive", "--days", "7", "--json", "--timeout", "120")]
            outputs = [c.communicate(timeout=180) for c in commands]
            for command, (_, err) in zip(commands[:2], outputs[:2], strict=True):
                assert command.returncode == 0, err[-2000:]
            # Whatever the backfill had to leave to a live job in flight, a second run completes.
            again = run_command("backfill_retroactive", "--days", "7", "--json", "--timeout", "120")
            _, err = again.communicate(timeout=180)
            assert again.returncode == 0, err[-2000:]
            assert _wait_for_predictions(upcoming, len(models))
        finally:
            logs = [stop(w) for w in workers]
    reports = [json.loads(out.splitlines()[-1]) for out, _ in outputs[:2]]
    enqueued = [e["match_id"] for r in reports for e in r["predicted"] if e["state"] == "enqueued"]
    assert sorted(enqueued) == sorted(m.pk for m in upcoming), (reports, [log[-2000:] for log in logs])
    for match in upcoming:
        preds = Prediction.objects.filter(match=match)
        assert preds.count() == 3 and not preds.filter(is_retroactive=True).exists()
    for match in played:
        match.refresh_from_db()
        preds = Prediction.objects.filter(match=match)
        assert preds.count() == 3 and set(preds.values_list("status", flat=True)) == {"scored"}
        assert _points_agree(match)
    # Each match's LLM call happened once: no stage of any match ran twice, on either path.
    assert llm.count("steady-llm") == len(upcoming) + len(played)
    for match in played + upcoming:
        both = [redis_conn.exists(f"rq:job:{stage}-{match.pk}")
                and redis_conn.exists(f"rq:job:{stage}-retro-{match.pk}") for stage in ("analyze", "predict")]
        assert not any(both), f"match {match.pk} had a live and a backfill job of the same stage"


def _wait_for_predictions(matches, per_match: int) -> bool:
    from tests.backfill.processes import wait_until

    return wait_until(
        lambda: Prediction.objects.filter(match__in=matches).count() == per_match * len(matches), timeout=90
    )
