"""scripts/demo --chaos: a replayed matchday with a killed worker, a source outage and a failing LLM, then the
backfill. The command runs as a real process (it starts and kills its own runner or workers)."""

import json
import subprocess
import sys

import pytest

from predictions.models import Prediction, PredictionModel
from tests.backfill.processes import ROOT, child_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _chaos(**env: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, "manage.py", "chaos_demo", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=child_env(API_FOOTBALL_KEY="", LOG_LEVEL="ERROR", **env))
    return proc, json.loads(proc.stdout)


def _assert_every_gap_filled(proc: subprocess.CompletedProcess, outcome: dict, mode: str) -> None:
    assert proc.returncode == 0, (proc.stderr[-3000:], outcome["problems"])
    assert outcome["ok"] and outcome["mode"] == mode and outcome["duplicates"] == 0
    chaos = outcome["chaos"]
    assert chaos["worker_killed"]["signal"] == "SIGKILL" and chaos["source_down"]["ticks_unavailable"] > 0
    assert chaos["llm_failed"]["requests_failed"] > 0 and chaos["llm_failed"]["still_active"]
    before, after = outcome["gaps_before"], outcome["gaps_after"]
    victim = chaos["worker_killed"]["match_id"]
    gaps = {g["match_id"]: g["missing_models"] for g in before["by_match"]}
    # The killed job's match lost every model's prediction; the failing LLM's matches lost that model's only.
    assert len(gaps[victim]) == len(outcome["pipeline"]["models"])
    assert [set(m) for pk, m in gaps.items() if pk != victim] == [{"chaos-llm-flaky"}] * (len(gaps) - 1)
    assert after == {"matches": 0, "missing_predictions": 0, "settlements": 0, "by_match": []}
    assert outcome["backfill"]["filled"] == before["missing_predictions"] == outcome["predictions"]["retroactive"]
    # What the database holds agrees with the report: the filled ones apart, flagged, after kickoff.
    preds = Prediction.objects.filter(match_id__in=outcome["replay"]["match_ids"])
    assert preds.filter(is_retroactive=True).count() == before["missing_predictions"]
    assert preds.count() == 10 * len(outcome["pipeline"]["models"]) == outcome["predictions"]["scored"]
    assert all((p.created_at >= p.match.kickoff_time) == p.is_retroactive for p in preds.select_related("match"))
    assert not PredictionModel.objects.filter(slug__startswith="chaos-", is_active=True).exists()


def test_the_embedded_default_fills_every_gap_the_chaos_left():
    proc, outcome = _chaos(REDIS_URL="")
    _assert_every_gap_filled(proc, outcome, "in-process")
    assert outcome["chaos"]["worker_killed"]["process"].startswith("runner subprocess")


def test_with_real_workers_on_redis_a_killed_worker_leaves_a_gap_the_backfill_fills(redis_conn):
    proc, outcome = _chaos()
    _assert_every_gap_filled(proc, outcome, "rq-workers")
    assert outcome["chaos"]["worker_killed"]["process"] == "RQ worker and its work horse"
