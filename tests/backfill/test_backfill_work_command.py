"""backfill_work RUN_ID: runs an in-process run's open items; bad usage exits 2 with one line."""

import pytest
from django.core.management import CommandError, call_command

from backfill.models import BackfillItem, BackfillRun
from predictions.models import Prediction
from tests.factories import BackfillItemFactory, BackfillRunFactory

pytestmark = pytest.mark.django_db


def test_it_runs_the_open_items_of_a_run_to_the_end(in_process, lineup, finished_match, capsys):
    run = BackfillRunFactory(status=BackfillRun.Status.RUNNING)
    BackfillItemFactory(run=run, match=finished_match, stages=["predict", "settle"], stage="predict")
    call_command("backfill_work", str(run.pk))
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED and run.worker_pid and run.heartbeat_at
    assert run.items.get().status == BackfillItem.Status.SUCCEEDED
    assert Prediction.objects.filter(match=finished_match, status="scored").count() == 3
    assert f"run {run.pk}: succeeded" in capsys.readouterr().out


def test_an_item_resumes_from_the_stage_it_stood_at(in_process, lineup, finished_match):
    run = BackfillRunFactory(status=BackfillRun.Status.RUNNING)
    BackfillItemFactory(run=run, match=finished_match, stages=["analyze", "predict", "settle"], stage="predict",
                        status=BackfillItem.Status.RUNNING)
    call_command("backfill_work", str(run.pk))
    item = run.items.get()
    assert (item.status, item.stage, item.analysis_created) == ("succeeded", "done", False)


@pytest.mark.parametrize(("args", "message"), [
    (["0"], "RUN_ID must be a run id"),
    (["abc"], "RUN_ID must be a run id"),
    (["999999"], "no backfill run 999999"),
])
def test_bad_usage_exits_2_with_one_line(in_process, args, message):
    with pytest.raises(CommandError) as caught:
        call_command("backfill_work", *args)
    assert caught.value.returncode == 2 and message in str(caught.value) and "\n" not in str(caught.value)


def test_a_finished_run_has_nothing_to_run(in_process):
    run = BackfillRunFactory(status=BackfillRun.Status.SUCCEEDED)
    with pytest.raises(CommandError, match="is succeeded, there is nothing to run") as caught:
        call_command("backfill_work", str(run.pk))
    assert caught.value.returncode == 2


def test_with_redis_it_refuses(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/8"
    with pytest.raises(CommandError, match="runs go through RQ workers") as caught:
        call_command("backfill_work", "1")
    assert caught.value.returncode == 2
