"""backfill_status: a run's progress in text and JSON, the latest runs, --follow, and its exit codes."""

import json
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backfill.models import BackfillItem, BackfillRun
from tests.backfill.processes import ROOT, child_env
from tests.factories import MatchFactory, TeamFactory


def _run(status=BackfillRun.Status.RUNNING, items=(BackfillItem.Status.SUCCEEDED, BackfillItem.Status.QUEUED)):
    run = BackfillRun.objects.create(triggered_by="command", status=status)
    for n, item_status in enumerate(items):
        match = MatchFactory(home_team=TeamFactory(name=f"Arsenal {n}"), away_team=TeamFactory(name=f"Chelsea {n}"))
        BackfillItem.objects.create(
            run=run, match=match, stages=["predict"], stage="predict", status=item_status,
            error="model x failed" if item_status == BackfillItem.Status.FAILED else "",
        )
    return run


def _call(*args: str, capsys) -> tuple[str, str]:
    call_command("backfill_status", *args)
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.django_db
def test_text_shows_progress_counts_and_items_by_name_and_kickoff(capsys):
    run = _run()

    out, _ = _call(str(run.pk), capsys=capsys)

    assert f"Run {run.pk} (command" in out and "running, 1/2 items done" in out
    assert "succeeded 1" in out and "queued 1" in out
    match = run.items.get(status="queued").match
    assert f"Arsenal 1 v Chelsea 1  {match.kickoff_time.isoformat()[:16]}" in out


@pytest.mark.django_db
def test_json_is_one_document_with_every_item(capsys):
    run = _run(items=[BackfillItem.Status.SUCCEEDED] * 60)

    out, _ = _call(str(run.pk), "--json", capsys=capsys)

    report = json.loads(out)
    assert report["run_id"] == run.pk and report["total"] == 60 and report["done"] == 60
    assert report["by_status"]["succeeded"] == 60 and len(report["items"]) == 60
    assert report["items"][0]["match"].startswith("Arsenal ")


@pytest.mark.django_db
def test_without_a_run_id_it_lists_the_latest_runs(capsys):
    older, newer = _run(), _run(status=BackfillRun.Status.SUCCEEDED)

    report = json.loads(_call("--json", capsys=capsys)[0])

    assert [r["run_id"] for r in report["runs"]] == [newer.pk, older.pk]


@pytest.mark.django_db
def test_a_run_that_finished_with_failures_exits_1_and_says_what_to_do():
    run = _run(status=BackfillRun.Status.FAILED, items=[BackfillItem.Status.FAILED])

    with pytest.raises(CommandError) as error:
        call_command("backfill_status", str(run.pk))

    assert error.value.returncode == 1 and "Retry failed items" in str(error.value)


@pytest.mark.django_db
@pytest.mark.parametrize("run_id", ["abc", "999999"])
def test_a_bad_or_unknown_run_id_exits_2(run_id):
    with pytest.raises(CommandError) as error:
        call_command("backfill_status", run_id)

    assert error.value.returncode == 2 and "backfill_status" in str(error.value)


@pytest.mark.django_db
def test_follow_without_a_run_id_is_bad_usage():
    with pytest.raises(CommandError) as error:
        call_command("backfill_status", "--follow")
    assert error.value.returncode == 2


@pytest.mark.django_db
def test_follow_gives_up_at_the_timeout_with_exit_3(capsys):
    run = _run()
    started = time.monotonic()

    with pytest.raises(CommandError) as error:
        call_command("backfill_status", str(run.pk), "--follow", "--interval", "0.1", "--timeout", "0.3")

    assert error.value.returncode == 3 and f"backfill_status {run.pk} --follow" in str(error.value)
    assert time.monotonic() - started < 5
    assert capsys.readouterr().out.count(f"Run {run.pk} ") >= 2  # it refreshed


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_follow_in_a_real_process_refreshes_until_the_run_ends_then_exits_0():
    run = _run()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "backfill_status", str(run.pk), "--follow", "--json", "--interval", "0.2"],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())  # it is following: the run is still going
        BackfillItem.objects.filter(run=run).update(status=BackfillItem.Status.SUCCEEDED)
        BackfillRun.objects.filter(pk=run.pk).update(status=BackfillRun.Status.SUCCEEDED)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [first, *(json.loads(line) for line in out.splitlines())]
    assert proc.returncode == 0, err
    assert lines[0]["done"] == 1 and lines[-1]["done"] == 2 and lines[-1]["finished"] is True


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_following_cleanly():
    run = _run()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "backfill_status", str(run.pk), "--follow", "--interval", "0.2"],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert f"Run {run.pk} " in proc.stdout.readline()  # following
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)

    assert proc.returncode == 0 and "Traceback" not in err
    assert f"stopped following run {run.pk} (the run goes on)" in err
