"""The run page: progress per stage, items once and paginated, the plan as a table, read-only, true banners."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from backfill import service
from backfill.models import BackfillItem, BackfillRun
from backfill.services import run_page
from tests.factories import BackfillItemFactory, BackfillRunFactory, MatchFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:matches_match_changelist"


@pytest.fixture
def operator(client):
    user = User.objects.create_user(username="operator", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["run_backfill", "view_match", "change_match", "view_backfillrun", "change_backfillrun",
                      "delete_backfillrun"]
    ))
    client.force_login(user)
    return user


def _page(client, run: BackfillRun, **params) -> str:
    response = client.get(reverse("admin:backfill_backfillrun_change", args=[run.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def _running_run(**kwargs) -> BackfillRun:
    return BackfillRunFactory(**{"status": BackfillRun.Status.RUNNING, **kwargs})


def test_progress_counts_each_stage_needed_and_done():
    run = _running_run()
    BackfillItemFactory(run=run, stages=["analyze", "predict", "settle"], stage="done", status="succeeded")
    BackfillItemFactory(run=run, stages=["analyze", "predict", "settle"], stage="predict", status="running")
    BackfillItemFactory(run=run, stages=["predict", "settle"], stage="predict", status="queued")
    BackfillItemFactory(run=run, stages=["settle"], stage="settle", status="failed")

    progress = run_page.run_progress(run)

    assert (progress.total, progress.finished, progress.percent) == (4, 2, 50)
    assert [(s.stage, s.needed, s.done) for s in progress.stages] == [
        ("analyze", 2, 2), ("predict", 3, 1), ("settle", 4, 1)]
    assert progress.by_status == {"queued": 1, "running": 1, "succeeded": 1, "failed": 1}


def test_skips_are_counted_by_reason_most_frequent_first():
    skipped = [{"match_id": i, "status": "cancelled", "reason": "never predicted"} for i in range(3)]
    skipped.append({"match_id": 9, "status": "scheduled", "reason": "not finished"})
    groups = run_page.skip_groups(skipped)
    assert [(g.reason, g.count, len(g.matches)) for g in groups] == [("never predicted", 3, 3),
                                                                        ("not finished", 1, 1)]


def test_run_page_lists_each_item_once_with_names_kickoff_and_competition_paginated(
    operator, client, monkeypatch
):
    monkeypatch.setattr(run_page, "ITEMS_PER_PAGE", 2)
    run = _running_run(status=BackfillRun.Status.SUCCEEDED)
    matches = [MatchFactory() for _ in range(3)]
    for match in matches:
        BackfillItemFactory(run=run, match=match, stage="done", status="succeeded")

    first, second = _page(client, run), _page(client, run, page=2)

    shown = [m for m in matches if f'data-match="{m.pk}"' in first]
    assert len(shown) == 2 and first.count('class="item-status"') == 2
    assert second.count('class="item-status"') == 1
    last = next(m for m in matches if m not in shown)
    assert f'data-match="{last.pk}"' in second
    assert f"{last.home_team.name} v {last.away_team.name}" in second
    assert last.competition.name in second and f"{last.kickoff_time:%Y-%m-%d %H:%M}" in second
    assert "page 1 of 2 (3 items)" in first


def test_run_page_is_read_only_and_shows_the_plan_as_a_table_with_skips_summarized(operator, client):
    run = _running_run(status=BackfillRun.Status.SUCCEEDED, plan={
        "estimate": {"analyses": 4, "predictions": 12, "llm_calls": 0, "settlements": 3,
                     "api_football_requests_max": 8},
        "active_models": 3,
        "skipped": [{"match_id": i, "status": "cancelled", "reason": "never predicted"} for i in range(5)],
    })
    BackfillItemFactory(run=run, stage="done", status="succeeded")
    html = _page(client, run)

    assert 'name="_save"' not in html and 'name="_continue"' not in html and "deletelink" not in html
    assert '"estimate"' not in html  # no raw JSON
    assert "<th>Analyses</th><td>4</td>" in html and "<th>Settlements</th><td>3</td>" in html
    assert "<summary>5 matches: never predicted</summary>" in html
    url = reverse("admin:backfill_backfillrun_change", args=[run.pk])
    assert client.post(url, {"triggered_by": "edited"}).status_code in (200, 403)
    assert client.post(reverse("admin:backfill_backfillrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    run.refresh_from_db()
    assert run.triggered_by == "test" and BackfillRun.objects.filter(pk=run.pk).exists()


def test_a_run_whose_process_stopped_beating_shows_interrupted_with_resume(operator, client, in_process, settings):
    settings.BACKFILL_HEARTBEAT_TIMEOUT = 30
    run = _running_run(heartbeat_at=timezone.now() - timedelta(seconds=31))
    BackfillItemFactory(run=run)
    html = _page(client, run)
    assert '<span id="run-status">Interrupted</span>' in html and 'id="run-resume"' in html
    assert "(refreshing)" not in html

    BackfillRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    html = _page(client, run)
    assert '<span id="run-status">Running</span>' in html and 'id="run-resume"' not in html


def test_the_cancel_button_stops_an_in_process_run_whose_items_have_not_started(operator, client, in_process):
    run = _running_run(heartbeat_at=timezone.now())
    BackfillItemFactory(run=run)
    response = client.post(reverse("admin:backfill_backfillrun_cancel", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.CANCELED
    assert run.items.get().status == BackfillItem.Status.CANCELED
    assert f"Run {run.pk} canceled (0 queued job(s) canceled); no new stage starts." in [
        str(m) for m in response.context["messages"]]


def test_run_actions_need_post_and_the_permission(client, in_process):
    run = _running_run(heartbeat_at=timezone.now())
    viewer = User.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_backfillrun"))
    client.force_login(viewer)
    assert 'id="run-cancel"' not in _page(client, run)
    assert client.post(reverse("admin:backfill_backfillrun_cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.RUNNING


def test_a_failed_start_shows_an_error_banner_not_a_success_one(
    operator, client, in_process, lineup, finished_match, settings, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.BACKFILL_LOG_DIR = blocker / "logs"  # the background process cannot get its log file

    data = {"action": "backfill_selected_matches", "_selected_action": [str(finished_match.pk)], "confirm": "yes"}
    response = client.post(reverse(CHANGELIST), data, follow=True)

    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert [level for level, _ in shown] == ["error"] and "did not start" in shown[0][1]
    run = BackfillRun.objects.get()
    assert run.status == BackfillRun.Status.FAILED and run.items.get().status == BackfillItem.Status.FAILED


def _confirm(client, match) -> BackfillRun:
    data = {"action": "backfill_selected_matches", "_selected_action": [str(match.pk)], "confirm": "yes"}
    response = client.post(reverse(CHANGELIST), data)
    run = BackfillRun.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/backfillrun/{run.pk}/change/")
    return run


def test_with_redis_the_action_enqueues_one_job_that_enqueues_the_chains(operator, client, rq_queue, burst, lineup,
                                                                        finished_match):
    from predictions.models import Prediction

    run = _confirm(client, finished_match)
    assert rq_queue.job_ids == [f"enqueue-run-{run.pk}"] and run.heartbeat_at is None
    html = _page(client, run)
    assert "Running" in html and 'id="run-cancel"' in html and 'id="run-resume"' not in html
    burst()
    assert service.wait_for_run(run, timeout=10) and run.status == BackfillRun.Status.SUCCEEDED
    assert Prediction.objects.filter(match=finished_match, status="scored").count() == 3


def test_with_redis_a_cancel_before_the_enqueue_job_ran_enqueues_nothing(operator, client, rq_queue, burst, lineup,
                                                                        finished_match):
    from predictions.models import Prediction

    run = _confirm(client, finished_match)
    assert service.cancel_run(run) == 1  # the enqueue job
    burst()
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.CANCELED and run.items.get().status == BackfillItem.Status.CANCELED
    assert not Prediction.objects.exists() and rq_queue.count == 0


def test_a_canceled_run_whose_process_died_mid_stage_gets_its_open_item_closed(operator, client, in_process,
                                                                               settings):
    settings.BACKFILL_HEARTBEAT_TIMEOUT = 30
    run = BackfillRunFactory(status=BackfillRun.Status.CANCELED, heartbeat_at=timezone.now() - timedelta(minutes=5))
    item = BackfillItemFactory(run=run, status=BackfillItem.Status.RUNNING)
    _page(client, run)
    item.refresh_from_db()
    assert item.status == BackfillItem.Status.CANCELED and item.error == "canceled before predict"
