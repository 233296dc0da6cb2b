"""plan_backfill / start_backfill / wait_for_run: in-process and through RQ on real Redis."""

import pytest
from rq.job import Job

from backfill import service
from backfill.models import BackfillItem, BackfillRun
from matches.models import Match
from predictions.models import Prediction, PredictionModel
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory
from tests.fakes.fake_llm import FakeLLMServer, good, server_error

pytestmark = pytest.mark.django_db


def test_plan_reports_gaps_skips_and_cost_and_changes_nothing(lineup, finished_match):
    MatchFactory(status=Match.Status.CANCELLED)
    plan = service.plan_backfill(7)
    assert [g.match_id for g in plan.gaps] == [finished_match.pk]
    assert plan.gaps[0].stages == ("predict", "settle")
    assert [s.status for s in plan.skipped] == ["cancelled"]
    assert plan.estimate["predictions"] == 3 and plan.estimate["llm_calls"] == 0
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists()


@pytest.mark.parametrize("days", [0, -1, 366, "abc", 1.5])
def test_days_outside_1_to_365_is_refused(days):
    with pytest.raises(service.BackfillError, match="--days must be an integer from 1 to 365"):
        service.plan_backfill(days)


def test_unknown_match_id_is_refused(lineup):
    with pytest.raises(service.BackfillError, match="no match with id 999999"):
        service.plan_backfill(match_ids=[999999])


def test_in_process_run_fills_and_settles(in_process, lineup, finished_match):
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert Prediction.objects.filter(match=finished_match, status="scored").count() == 3
    (item,) = run.items.all()
    assert (item.stage, item.status, item.predictions_created, item.settled) == ("done", "succeeded", 3, True)
    summary = service.summarize_run(run)
    assert summary["predictions_created"] == 3 and summary["settlements"] == 1 and summary["errors"] == []


def test_an_in_process_run_killed_mid_way_is_closed_by_the_next_run_that_completes_its_matches(
    in_process, lineup, finished_match
):
    """Without Redis the jobs run in the command's process; killed, it leaves its run 'running'."""
    crashed = BackfillRun.objects.create(triggered_by="killed command", status=BackfillRun.Status.RUNNING)
    BackfillItem.objects.create(run=crashed, match=finished_match, stages=["predict", "settle"], stage="predict",
                                status=BackfillItem.Status.RUNNING)

    service.start_backfill(service.plan_backfill(7), triggered_by="next")

    crashed.refresh_from_db()
    assert crashed.status == BackfillRun.Status.SUCCEEDED and crashed.finished_at is not None
    assert crashed.items.get().status == BackfillItem.Status.SUCCEEDED
    assert Prediction.objects.filter(match=finished_match, status="scored").count() == 3


def test_second_run_creates_nothing_and_changes_no_points(in_process, lineup, finished_match):
    service.start_backfill(service.plan_backfill(7), triggered_by="test")
    points = list(Prediction.objects.order_by("pk").values_list("total_points", "scored_at"))
    plan = service.plan_backfill(7)
    assert plan.gaps == []
    run = service.start_backfill(plan, triggered_by="test")
    assert run.status == BackfillRun.Status.SUCCEEDED and run.items.count() == 0
    assert list(Prediction.objects.order_by("pk").values_list("total_points", "scored_at")) == points


def test_rq_run_enqueues_chains_and_finishes_through_workers(lineup, rq_queue, burst):
    match = MatchFactory(finished=True, home_score=0, away_score=0)
    MatchAnalysisFactory(match=match)
    PredictionFactory(match=match, model=lineup[0], predicted_home=0, predicted_away=0)
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    (item,) = run.items.all()
    assert item.job_ids == {"predict": f"predict-retro-{match.pk}", "settle": f"settle-retro-{match.pk}"}
    assert item.status == BackfillItem.Status.QUEUED
    burst()
    assert service.wait_for_run(run, timeout=10) is True
    item.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert (item.status, item.predictions_created, item.settled) == ("succeeded", 2, True)
    match.refresh_from_db()
    assert (match.quota_home, match.quota_draw, match.quota_away) == (2, 3, 6)  # 2 home tips, 1 draw of 3
    assert Prediction.objects.get(match=match, model=lineup[0]).total_points == 3 + 1 + 3


def test_a_second_run_reuses_the_first_runs_in_flight_jobs(lineup, rq_queue, burst, finished_match):
    first = service.start_backfill(service.plan_backfill(7), triggered_by="first")
    second = service.start_backfill(service.plan_backfill(7), triggered_by="second")
    (reused,) = second.items.all()
    assert reused.status == BackfillItem.Status.IN_FLIGHT and reused.reused
    assert rq_queue.count == 1
    burst()
    assert service.wait_for_run(first, timeout=10) and service.wait_for_run(second, timeout=10)
    assert Prediction.objects.filter(match=finished_match).count() == 3
    assert service.summarize_run(second)["already_in_flight"] == 1
    assert service.summarize_run(second)["predictions_created"] == 0


def test_failed_stage_fails_the_item_with_its_reason_and_cancels_the_rest(lineup, rq_queue, burst):
    match = MatchFactory(finished=True)  # no analysis
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    Match.objects.filter(pk=match.pk).update(status=Match.Status.CANCELLED)  # analysis is then refused
    burst()
    assert service.wait_for_run(run, timeout=10)
    (item,) = run.items.all()
    assert run.status == BackfillRun.Status.FAILED
    assert item.status == "failed" and item.stage == "analyze" and "cancelled" in item.error
    predict = Job.fetch(f"predict-retro-{match.pk}", connection=rq_queue.connection)
    assert predict.get_status() == "canceled"
    assert not Prediction.objects.exists()


def _llm_model(llm: FakeLLMServer, slug: str):
    return PredictionModelFactory(
        slug=slug, provider="openai_compatible",
        config={"model": slug, "base_url": llm.base_url, "api_key_optional": True, "timeout": 5, "max_retries": 0},
    )


def test_a_model_that_failed_is_asked_again_by_the_stage_retry_before_settlement(lineup, rq_queue, burst,
                                                                                  finished_match):
    """An LLM outage outlasting the provider's own retries: the predict job keeps the others'
    predictions, the stage's retry asks only the failed model, and settlement runs once, over all."""
    with FakeLLMServer(api_key=None) as llm:
        _llm_model(llm, "flaky-llm")
        llm.script("flaky-llm", server_error(), server_error(), good(2, 1))
        run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
        burst()

    assert service.wait_for_run(run, timeout=10)
    (item,) = run.items.all()
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert (item.status, item.predictions_created, item.settled, item.error) == ("succeeded", 4, True, "")
    assert llm.count("flaky-llm") == 3 and llm.count() == 3  # the fixed models were not asked again
    assert set(Prediction.objects.filter(match=finished_match).values_list("status", flat=True)) == {"scored"}
    finished_match.refresh_from_db()
    assert (finished_match.quota_home, finished_match.quota_draw, finished_match.quota_away) == (2, 6, 6)


def test_on_the_last_attempt_what_succeeded_is_settled_and_the_item_names_the_failed_model(
    lineup, rq_queue, burst, finished_match, settings
):
    settings.MODEL_FAILURE_THRESHOLD = 2  # lower than the 5 attempts: they count as one failure, not five
    with FakeLLMServer(api_key=None) as llm:
        _llm_model(llm, "down-llm")
        llm.configure("down-llm", default=server_error())
        run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
        burst()

    assert service.wait_for_run(run, timeout=10)
    (item,) = run.items.all()
    assert llm.count("down-llm") == 5  # the predict stage's 5 attempts
    assert (item.status, item.predictions_created, item.settled) == ("failed", 3, True)
    assert "down-llm" in item.error
    assert Prediction.objects.filter(match=finished_match, status="scored").count() == 3
    down = PredictionModel.objects.get(slug="down-llm")
    assert down.is_active and down.consecutive_failures == 1  # one bad match does not trip the breaker


def test_cancel_run_cancels_queued_jobs(lineup, rq_queue, burst, finished_match):
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    assert service.cancel_run(run) == 2
    burst()
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.CANCELED
    assert run.items.get().status == BackfillItem.Status.CANCELED
    assert not Prediction.objects.exists()


def test_a_job_already_running_when_the_run_is_canceled_finishes_without_reopening_its_item(
    lineup, rq_queue, finished_match
):
    from backfill.callbacks import stage_succeeded
    from predictions.jobs import predict_match

    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    predict = Job.fetch(f"predict-retro-{finished_match.pk}", connection=rq_queue.connection)
    predict.set_status("started")  # a worker has it

    assert service.cancel_run(run) == 1  # the settle job; the running predict job is left to finish
    stage_succeeded(predict, rq_queue.connection, predict_match(finished_match.pk, allow_retroactive=True))

    run.refresh_from_db()
    item = run.items.get()
    assert run.status == BackfillRun.Status.CANCELED and run.finished_at is not None
    assert item.status == BackfillItem.Status.CANCELED and "canceled" in item.error
    assert Prediction.objects.filter(match=finished_match).count() == 3  # what it made is kept


def test_retry_failed_starts_a_new_run_for_what_is_still_missing(in_process, lineup, finished_match):
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    BackfillItem.objects.filter(run=run).update(status=BackfillItem.Status.FAILED)
    Prediction.objects.filter(model=lineup[0]).delete()
    again = service.retry_failed(run, "test")
    assert again is not None and again.pk != run.pk
    assert Prediction.objects.filter(match=finished_match).count() == 3


def test_chains_finishing_during_the_enqueue_loop_keep_their_outcome(lineup, rq_queue, burst, monkeypatch):
    """A fast worker closes early items while later ones are still being enqueued."""
    from backfill import queueing

    first, second = (MatchFactory(finished=True) for _ in range(2))
    for match in (first, second):
        MatchAnalysisFactory(match=match)
    real = queueing.enqueue_chain
    calls = []

    def enqueue_then_work(queue, match_id, stages, **kwargs):
        outcome = real(queue, match_id, stages, **kwargs)
        calls.append(match_id)
        if len(calls) == 1:
            burst()  # the first chain runs to the end before the second is enqueued
        return outcome

    monkeypatch.setattr(queueing, "enqueue_chain", enqueue_then_work)
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    assert run.items.get(match=first).status == BackfillItem.Status.SUCCEEDED
    burst()
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED  # closed by callbacks alone, nobody waited


def test_a_chain_in_flight_without_settlement_is_extended_with_it(lineup, rq_queue, burst, finished_match):
    from backfill import queueing

    queueing.enqueue_chain(rq_queue, finished_match.pk, ("predict",))  # e.g. the live pipeline's retry
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    item = run.items.get()
    assert item.reused and set(item.job_ids) == {"predict", "settle"}
    burst()
    assert service.wait_for_run(run, timeout=10)
    assert run.status == BackfillRun.Status.SUCCEEDED
    assert set(Prediction.objects.filter(match=finished_match).values_list("status", flat=True)) == {"scored"}


def test_a_chain_in_flight_that_cannot_cover_the_needed_stages_fails_the_item_with_advice(
    lineup, rq_queue, burst, finished_match
):
    from backfill import queueing

    queueing.enqueue_chain(rq_queue, finished_match.pk, ("settle",))
    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    burst()
    assert service.wait_for_run(run, timeout=10)
    item = run.items.get()
    assert item.status == BackfillItem.Status.FAILED and "run the backfill again" in item.error
    assert service.plan_backfill(7).gaps[0].match_id == finished_match.pk  # still a gap for the next run


def test_cancel_leaves_chains_reused_from_another_run_alone(lineup, rq_queue, finished_match):
    first = service.start_backfill(service.plan_backfill(7), triggered_by="first")
    second = service.start_backfill(service.plan_backfill(7), triggered_by="second")
    assert service.cancel_run(second) == 0
    assert rq_queue.count == 1 and first.items.get().status == BackfillItem.Status.QUEUED
