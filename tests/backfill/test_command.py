"""backfill_retroactive: bad input, dry run, JSON summary, report, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backfill.models import BackfillRun
from predictions.models import Prediction
from tests.factories import PredictionModelFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def report_dir(settings, tmp_path):
    settings.BACKFILL_REPORT_DIR = tmp_path / "reports"
    return settings.BACKFILL_REPORT_DIR


@pytest.mark.parametrize("days", ["0", "-1", "366", "abc", "7.5", "1_0", "\u0663", ""])
def test_bad_days_is_a_clear_error_that_changes_nothing(days, lineup, finished_match, report_dir, redis_conn):
    with pytest.raises(CommandError, match="--days must be an integer from 1 to 365"):
        call_command("backfill_retroactive", f"--days={days}")
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists()
    assert not report_dir.exists()
    assert redis_conn.keys("rq:job:*") == []


@pytest.mark.parametrize("days", ["0", "-1", "366", "abc"])
def test_bad_days_exits_non_zero_with_the_message_on_stderr(days):
    env = {**os.environ, "DATABASE_URL": "sqlite:////nonexistent/never-opened.sqlite3"}
    proc = subprocess.run(
        [sys.executable, "manage.py", "backfill_retroactive", "--days", days],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "--days must be an integer from 1 to 365" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--match", "x"], "--match must be a match id"),
    (["--match", "0"], "--match must be a positive integer"),
    (["--match", "1_130"], "--match must be a match id"),
    (["--match", "\u0661\u0661"], "--match must be a match id"),
    (["--dry-run", "--async"], "--dry-run only prints the plan"),
    (["--dry-run", "--timeout", "5"], "--dry-run only prints the plan"),
    (["--async", "--timeout", "5"], "--async returns at once"),
    (["--match", "987654"], "no match with id 987654"),
    (["--timeout", "-3"], "--timeout must be positive"),
    (["--timeout", "soon"], "--timeout must be a number"),
    (["--timeout", "nan"], "--timeout must be a finite number"),
    (["--report", "/proc/nope/r.json"], "does not exist"),
    (["--report", "/proc/r.json"], "is not writable"),
    (["--report", "/"], "is a directory"),
])
def test_other_bad_input_is_refused(args, message, lineup, finished_match, report_dir):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_retroactive", *args)
    assert not BackfillRun.objects.exists() and not report_dir.exists()


def test_dry_run_prints_the_plan_and_changes_nothing(lineup, finished_match, report_dir, capsys):
    call_command("backfill_retroactive", "--days", "7", "--dry-run")
    out = capsys.readouterr().out
    assert f"#{finished_match.pk} {finished_match.home_team} v {finished_match.away_team}, " in out
    assert "needs predict -> settle" in out
    assert "finished: 1 match(es) with gaps" in out
    assert out.rstrip().endswith("nothing was changed")
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists() and not report_dir.exists()


def test_json_summary_and_report_in_process(in_process, lineup, finished_match, report_dir, capsys):
    call_command("backfill_retroactive", "--days", "7", "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["matches_found"] == 1 and summary["predictions_created"] == 3 and summary["settlements"] == 1
    assert summary["errors"] == [] and summary["status"] == "succeeded"
    (report,) = report_dir.glob("backfill-report-*.json")
    assert json.loads(report.read_text())["summary"]["predictions_created"] == 3


def test_report_path_option(in_process, lineup, finished_match, tmp_path):
    target = tmp_path / "r.json"
    call_command("backfill_retroactive", "--report", str(target))
    assert json.loads(target.read_text())["plan"]["gaps"][0]["match_id"] == finished_match.pk


def test_failed_item_exits_non_zero_and_names_the_match(in_process, lineup, finished_match, report_dir, capsys):
    PredictionModelFactory(
        slug="unreachable-llm", provider="openai_compatible",
        config={"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_optional": True, "timeout": 1,
                "max_retries": 0},
    )
    with pytest.raises(CommandError, match="1 match\\(es\\) failed"):
        call_command("backfill_retroactive")
    out = capsys.readouterr().out
    assert f"match {finished_match.pk}" in out and "unreachable-llm" in out
    assert Prediction.objects.filter(match=finished_match).count() == 3


def test_async_without_redis_is_refused_with_exit_2_and_changes_nothing(in_process, lineup, finished_match,
                                                                        report_dir):
    """No REDIS_URL: --async has nothing to hand over to; the README documents the refusal."""
    with pytest.raises(CommandError, match="--async needs REDIS_URL; without it the run is in-process: drop --async"
                       ) as excinfo:
        call_command("backfill_retroactive", "--async")
    assert excinfo.value.returncode == 2
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists() and not report_dir.exists()


def test_two_runs_in_the_same_second_write_two_reports(in_process, lineup, finished_match, report_dir):
    call_command("backfill_retroactive", "--dry-run")  # no report
    call_command("backfill_retroactive")
    call_command("backfill_retroactive")
    assert len(list(report_dir.glob("backfill-report-*.json"))) == 2


def test_async_enqueues_and_returns_the_run_id(lineup, finished_match, rq_queue, report_dir, capsys):
    call_command("backfill_retroactive", "--async")
    run = BackfillRun.objects.get()
    assert f"Backfill run {run.pk} started" in capsys.readouterr().out
    assert rq_queue.count == 1 and run.status == BackfillRun.Status.RUNNING


def test_unreachable_redis_is_a_clear_error_before_anything_is_recorded(lineup, finished_match, settings,
                                                                        report_dir):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {**cfg, "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1"}
                          for name, cfg in settings.RQ_QUEUES.items()}
    with pytest.raises(CommandError, match="Redis at REDIS_URL is unreachable"):
        call_command("backfill_retroactive")
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists() and not report_dir.exists()


def test_warns_when_no_worker_serves_the_backfill_queue(lineup, finished_match, rq_queue, report_dir, capsys):
    call_command("backfill_retroactive", "--async")
    assert "no RQ worker serves the 'backfill' queue" in capsys.readouterr().err


def test_timeout_exits_non_zero_and_leaves_the_run_going(lineup, finished_match, rq_queue, report_dir):
    with pytest.raises(CommandError, match=r"timed out after 0\.5s; run \d+ goes on in the background") as excinfo:
        call_command("backfill_retroactive", "--timeout", "0.5")
    assert excinfo.value.returncode == 3
    run = BackfillRun.objects.get()
    assert run.status == BackfillRun.Status.RUNNING and rq_queue.count == 1
    (report,) = report_dir.glob("backfill-report-*.json")
    assert json.loads(report.read_text())["summary"]["timed_out"] is True
