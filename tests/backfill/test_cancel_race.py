"""A cancel between RQ's pop of a job and its start: the job still runs, and its item says so."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backfill.models import BackfillItem, BackfillRun
from backfill.services.progress import record_stage_success
from tests.factories import BackfillItemFactory, BackfillRunFactory

pytestmark = pytest.mark.django_db

Stage = BackfillItem.Stage


def _canceled_item(*, canceled_at, stage=Stage.SETTLE):
    run = BackfillRunFactory(status=BackfillRun.Status.CANCELED, finished_at=canceled_at)
    return BackfillItemFactory(run=run, stages=[Stage.PREDICT, Stage.SETTLE], stage=stage,
                               status=BackfillItem.Status.CANCELED, error=f"canceled before {stage}")


def test_a_stage_that_ran_after_its_cancel_records_its_result_on_the_canceled_item():
    enqueued = timezone.now() - timedelta(seconds=5)
    item = _canceled_item(canceled_at=enqueued + timedelta(seconds=1))

    record_stage_success(item.match_id, Stage.SETTLE, {"outcome": "scored"}, enqueued_at=enqueued)

    item.refresh_from_db()
    assert (item.status, item.stage, item.settled, item.error) == (BackfillItem.Status.SUCCEEDED, Stage.DONE, True, "")


def test_a_predict_that_ran_after_its_cancel_counts_and_the_item_stays_canceled_before_settle():
    enqueued = timezone.now() - timedelta(seconds=5)
    item = _canceled_item(canceled_at=enqueued + timedelta(seconds=1), stage=Stage.PREDICT)

    record_stage_success(item.match_id, Stage.PREDICT, {"created": 2, "models": {}}, enqueued_at=enqueued)

    item.refresh_from_db()
    assert (item.status, item.stage, item.predictions_created) == (BackfillItem.Status.CANCELED, Stage.SETTLE, 2)
    assert item.error == "canceled before settle (predict had finished)"


def test_an_item_canceled_before_the_job_was_enqueued_is_left_as_it_was():
    enqueued = timezone.now()
    item = _canceled_item(canceled_at=enqueued - timedelta(days=1))

    record_stage_success(item.match_id, Stage.SETTLE, {"outcome": "scored"}, enqueued_at=enqueued)

    item.refresh_from_db()
    assert (item.status, item.stage, item.settled) == (BackfillItem.Status.CANCELED, Stage.SETTLE, False)
