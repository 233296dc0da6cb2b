"""backfill_retroactive's exit codes, each with its one-line message (config.commands)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backfill.models import BackfillRun
from config import commands
from predictions.models import Prediction
from tests.factories import PredictionModelFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def report_dir(settings, tmp_path):
    settings.BACKFILL_REPORT_DIR = tmp_path / "reports"
    return settings.BACKFILL_REPORT_DIR


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "backfill_retroactive", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )


def test_the_codes_are_the_documented_ones():
    assert (commands.DONE, commands.FAILURES, commands.USAGE, commands.TIMED_OUT, commands.UNAVAILABLE) == (
        0, 1, 2, 3, 4
    )


def test_0_done(in_process, lineup, finished_match, report_dir, capsys):
    call_command("backfill_retroactive")  # returns: exit 0

    assert BackfillRun.objects.get().status == BackfillRun.Status.SUCCEEDED
    assert "Run " in capsys.readouterr().out


def test_1_finished_with_failures(in_process, lineup, finished_match, report_dir):
    PredictionModelFactory(
        slug="unreachable-llm", provider="openai_compatible",
        config={"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_optional": True, "timeout": 1,
                "max_retries": 0},
    )
    with pytest.raises(CommandError, match=r"1 match\(es\) failed in run \d+; see the errors above") as excinfo:
        call_command("backfill_retroactive")

    assert excinfo.value.returncode == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "--days must be an integer from 1 to 365"),
    (["--match", "x"], "--match must be a match id"),
    (["--dry-run", "--async"], "--dry-run only prints the plan"),
    (["--match", "987654"], "no match with id 987654"),
    (["--timeout", "soon"], "--timeout must be a number"),
])
def test_2_bad_usage(args, message, lineup, finished_match, report_dir):
    with pytest.raises(CommandError, match=message) as excinfo:
        call_command("backfill_retroactive", *args)

    assert excinfo.value.returncode == 2
    assert not BackfillRun.objects.exists()


def test_2_bad_usage_from_the_shell_is_one_line_without_usage_text():
    proc = manage("--days", "abc", DATABASE_URL="sqlite:////nonexistent/never-opened.sqlite3")

    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "manage.py backfill_retroactive: error: --days must be an integer from 1 to 365, got 'abc'"
    ]


def test_2_async_without_redis_from_the_shell(lineup, finished_match):
    proc = manage("--async", REDIS_URL="")

    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "CommandError: --async needs REDIS_URL; without it the run is in-process: drop --async"
    )


def test_3_timed_out_while_waiting(lineup, finished_match, rq_queue, report_dir):
    with pytest.raises(CommandError, match=r"timed out after 0\.2s; run \d+ goes on in the background") as excinfo:
        call_command("backfill_retroactive", "--timeout", "0.2")

    assert excinfo.value.returncode == 3
    assert BackfillRun.objects.get().status == BackfillRun.Status.RUNNING


def test_4_redis_unreachable(lineup, finished_match, settings, report_dir):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {**cfg, "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1"}
                          for name, cfg in settings.RQ_QUEUES.items()}
    with pytest.raises(CommandError, match=r"Redis at REDIS_URL is unreachable .*; start it or unset REDIS_URL"
                       ) as excinfo:
        call_command("backfill_retroactive")

    assert excinfo.value.returncode == 4
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists()


def test_4_database_unavailable_from_the_shell_is_one_line_without_a_traceback():
    proc = manage("--dry-run", DATABASE_URL="postgres://kickbench:kickbench@127.0.0.1:1/kickbench", REDIS_URL="")

    assert proc.returncode == 4
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("CommandError: the database is unavailable (OperationalError: ")
    assert line.endswith("start PostgreSQL or fix DATABASE_URL, then rerun")


def test_verbosity_0_prints_only_the_outcome(in_process, lineup, finished_match, report_dir, capsys):
    call_command("backfill_retroactive", "--dry-run", verbosity=0)

    assert capsys.readouterr().out.strip() == "nothing was changed"


def test_the_plan_names_each_match_with_kickoff_and_competition(in_process, lineup, finished_match, capsys):
    finished_match.competition.code = "en.1"
    finished_match.competition.save()

    call_command("backfill_retroactive", "--dry-run")

    kickoff = finished_match.kickoff_time.strftime("%Y-%m-%d %H:%M")
    label = (f"#{finished_match.pk} {finished_match.home_team.name} v {finished_match.away_team.name}, "
             f"{kickoff} UTC, en.1")
    assert label in capsys.readouterr().out
