"""run_pipeline: --once --json, exit codes, a clean stop on Ctrl-C, the replay."""

import json
import signal
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pipeline.models import PipelineState
from predictions.models import Prediction
from tests.backfill.processes import ROOT, child_env
from tests.factories import MatchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_process(settings):
    settings.REDIS_URL = ""
    settings.API_FOOTBALL_KEY = ""


def test_once_json_prints_the_report_and_predicts_what_is_due(lineup, in_process):
    match = MatchFactory(kickoff_time=timezone.now() + timedelta(minutes=10))
    out = StringIO()
    call_command("run_pipeline", "--once", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] and [(e["match_id"], e["state"]) for e in report["predicted"]] == [(match.pk, "done")]
    assert report["fixture_sync"] == {"ran": False, "reason": "no API-Football key"}
    assert match.predictions.count() == 3
    assert PipelineState.load().last_report["predicted"][0]["match_id"] == match.pk


def test_a_tick_with_a_failure_exits_1(lineup, in_process):
    lineup[0].config = {"home": 99, "away": 0}  # an invalid tip: the model fails
    lineup[0].save()
    MatchFactory(kickoff_time=timezone.now() + timedelta(minutes=10))
    with pytest.raises(CommandError, match="finished with 1 failure") as raised:
        call_command("run_pipeline", "--once", stdout=StringIO())
    assert raised.value.returncode == 1
    assert Prediction.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "abc"], "--every must be a positive number"),
        (["--replay", "--speed", "0"], "--speed must be a positive number"),
        (["--replay", "--speed", "5000"], "lower --speed"),
        (["--replay", "--season", "1999"], "is not vendored"),
        (["--replay", "--round", "Matchday 99"], "no played round"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_changes_nothing(args, message, in_process):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("run_pipeline", *args, stdout=StringIO())
    assert raised.value.returncode == 2
    assert not PipelineState.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_redis_unavailable_exits_4_without_a_traceback(lineup):
    MatchFactory(kickoff_time=timezone.now() + timedelta(minutes=10))
    proc = subprocess.run(
        [sys.executable, "manage.py", "run_pipeline", "--once"], cwd=ROOT, capture_output=True, text=True,
        env=child_env(REDIS_URL="redis://127.0.0.1:1/0", API_FOOTBALL_KEY=""), timeout=60,
    )
    assert proc.returncode == 4, proc.stderr
    assert "unavailable" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_the_loop_cleanly(redis_conn):
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_pipeline", "--every", "30", "--json"], cwd=ROOT, text=True,
        env=child_env(API_FOOTBALL_KEY=""), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    assert json.loads(first)["ok"]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err and "stopping after this tick" in err


def test_replay_runs_a_whole_matchday_on_a_fast_clock(in_process, lineup):
    out = StringIO()
    call_command("run_pipeline", "--replay", "--round", "Matchday 38", "--speed", "100000", "--every", "0.01",
                 "--json", stdout=out)
    lines = out.getvalue().splitlines()
    final = json.loads(lines[-1])
    assert final["summary"].startswith("replay of en.1 2024-25 Matchday 38 done: 10 matches, 30 predictions "
                                       "(30 made before kickoff, 0 retroactive), 30 scored")
    assert all(json.loads(line)["ok"] for line in lines[:-1])


def test_the_admin_index_warns_when_the_pipeline_has_not_ticked_for_ten_minutes(admin_client, lineup, in_process):
    page = admin_client.get("/admin/")
    assert "has never run" in page.content.decode()
    call_command("run_pipeline", "--once", stdout=StringIO())
    assert 'id="pipeline-stale"' not in admin_client.get("/admin/").content.decode()
    PipelineState.objects.filter(pk=1).update(ticked_at=timezone.now() - timedelta(minutes=11))
    assert "no tick for 11 minutes" in admin_client.get("/admin/").content.decode()
