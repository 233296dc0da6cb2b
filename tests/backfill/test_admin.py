"""The admin action "Backfill selected matches", the run page, and who may use them."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from backfill.models import BackfillRun
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:matches_match_changelist"


def _user(**kwargs) -> User:
    return User.objects.create_user(username=kwargs.pop("username", "u"), password="pw", **kwargs)


@pytest.fixture
def operator(client):
    user = _user(username="operator", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="run_backfill"), Permission.objects.get(codename="view_match"),
        Permission.objects.get(codename="change_match"), Permission.objects.get(codename="view_backfillrun"),
    )
    client.force_login(user)
    return user


def _post_action(client, match_ids, **extra):
    data = {"action": "backfill_selected_matches", "_selected_action": [str(i) for i in match_ids], **extra}
    return client.post(reverse(CHANGELIST), data)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_operator_sees_the_plan_then_confirms_and_lands_on_the_run_page(
    operator, client, in_process, lineup, finished_match
):
    from tests.backfill.processes import wait_until

    page = _post_action(client, [finished_match.pk])
    assert page.status_code == 200
    html = page.content.decode()
    assert "predict → settle" in html and "Start the backfill" in html
    assert html.index("What will run") < html.index("Skipped") and html.index("Analyses") < html.index("Skipped")
    assert not BackfillRun.objects.exists()
    done = _post_action(client, [finished_match.pk], confirm="yes")
    run = BackfillRun.objects.get()
    assert done.status_code == 302 and done.url == reverse("admin:backfill_backfillrun_change", args=[run.pk])
    assert run.triggered_by == "admin:operator" and run.user == operator
    # The request returned; a background process does the work.
    assert wait_until(lambda: BackfillRun.objects.get(pk=run.pk).is_finished, timeout=60)
    assert Prediction.objects.filter(match=finished_match).count() == 3
    detail = client.get(done.url).content.decode()
    assert 'id="run-items"' in detail and "succeeded" in detail


def test_plan_page_shows_skipped_matches_with_reason(operator, client, lineup):
    from tests.factories import MatchFactory

    cancelled = MatchFactory(status="cancelled")
    html = _post_action(client, [cancelled.pk]).content.decode()
    assert f"Match {cancelled.pk} (cancelled)" in html and "never predicted" in html


def test_staff_without_the_permission_cannot_backfill(client, lineup, finished_match):
    user = _user(username="staff", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match"),
                              Permission.objects.get(codename="change_match"))
    client.force_login(user)
    changelist = client.get(reverse(CHANGELIST)).content.decode()
    assert "backfill_selected_matches" not in changelist
    _post_action(client, [finished_match.pk], confirm="yes")
    assert not BackfillRun.objects.exists() and not Prediction.objects.exists()


def test_staff_without_the_permission_cannot_open_the_queue_dashboard(client):
    user = _user(username="staff", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/django_rq/dashboard/").status_code == 403


def test_operator_can_open_the_queue_dashboard(operator, client, redis_conn):
    assert client.get("/admin/django_rq/dashboard/").status_code == 200


def test_non_staff_user_is_sent_to_the_login_page(client, lineup, finished_match):
    user = _user(username="visitor")
    user.user_permissions.add(Permission.objects.get(codename="run_backfill"))
    client.force_login(user)
    response = _post_action(client, [finished_match.pk], confirm="yes")
    assert response.status_code == 302 and "/login/" in response.url
    assert not BackfillRun.objects.exists()


def test_match_list_shows_predictions_against_active_models(operator, client, lineup, finished_match):
    from tests.factories import PredictionFactory, PredictionModelFactory

    PredictionFactory(match=finished_match, model=lineup[0])
    PredictionFactory(match=finished_match, model=PredictionModelFactory(is_active=False))
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert ">1 / 3<" in html


@pytest.mark.parametrize("path", ["/admin/django_rq/dashboard/stats.json", "/admin/django_rq/dashboard/queues/0/",
                                  "/admin/django_rq/dashboard/xstats.json/"])
def test_queue_pages_and_stats_are_closed_to_staff_without_the_permission(client, path):
    client.force_login(_user(username="staff", is_staff=True))
    assert client.get(path).status_code == 403


def test_select_all_is_carried_by_the_filters_not_by_every_id(operator, client, rq_queue, lineup):
    from tests.factories import MatchAnalysisFactory, MatchFactory

    matches = [MatchFactory(finished=True) for _ in range(3)]
    for match in matches:
        MatchAnalysisFactory(match=match)
    data = {"action": "backfill_selected_matches", "select_across": "1", "_selected_action": [str(matches[0].pk)]}
    html = client.post(reverse(CHANGELIST), data).content.decode()
    assert 'name="select_across" value="1"' in html and html.count('name="_selected_action"') == 1
    client.post(reverse(CHANGELIST), {"action": "backfill_selected_matches", "select_across": "1", "confirm": "yes",
                                      "_selected_action": [str(matches[0].pk)]})
    assert BackfillRun.objects.get().items.count() == 3


RUNS = "admin:backfill_backfillrun_changelist"


def test_run_list_shows_who_when_the_window_and_the_counts(operator, client, in_process, lineup, finished_match):
    from backfill import service

    service.start_backfill(service.plan_backfill(7), triggered_by="admin:operator")
    html = client.get(reverse(RUNS)).content.decode()
    assert "admin:operator" in html and "(7 d)" in html and "succeeded" in html
    assert '<td class="field-items_total">1</td>' in html and '<td class="field-items_succeeded">1</td>' in html


def test_retry_failed_items_action_starts_a_run_for_what_is_still_missing(operator, client, rq_queue, burst, lineup,
                                                                          finished_match):
    from backfill import service
    from backfill.models import BackfillItem

    failed = service.start_backfill(service.plan_backfill(7), triggered_by="first")
    burst()
    BackfillItem.objects.filter(run=failed).update(status=BackfillItem.Status.FAILED)
    Prediction.objects.filter(model=lineup[0]).delete()  # what the failure left missing

    response = client.post(reverse(RUNS), {"action": "retry_failed_items", "_selected_action": [failed.pk]},
                           follow=True)

    retry = BackfillRun.objects.exclude(pk=failed.pk).get()
    shown = [str(m) for m in response.context["messages"]]
    assert (f"Run {retry.pk} retries the failed items of run {failed.pk}: 1 of 1 match(es) still missing "
            "(0 analyses, 1 predictions, 1 settlements); the other 0 are complete.") in shown
    burst()
    assert service.wait_for_run(retry, timeout=10)
    assert retry.triggered_by == "admin:operator" and retry.status == BackfillRun.Status.SUCCEEDED
    assert Prediction.objects.filter(match=finished_match).count() == 3


def test_retry_when_nothing_is_missing_any_more_says_so_and_starts_nothing(operator, client, in_process, lineup,
                                                                         finished_match):
    from backfill import service
    from backfill.models import BackfillItem

    run = service.start_backfill(service.plan_backfill(7), triggered_by="first")
    BackfillItem.objects.filter(run=run).update(status=BackfillItem.Status.CANCELED)

    response = client.post(reverse(RUNS), {"action": "retry_failed_items", "_selected_action": [run.pk]},
                           follow=True)

    assert BackfillRun.objects.count() == 1
    assert (f"Run {run.pk}: nothing is missing any more for its 1 failed or canceled match(es); nothing was "
            "started.") in [str(m) for m in response.context["messages"]]


def test_cancel_action_cancels_the_queued_jobs_of_a_running_run(operator, client, lineup, finished_match, rq_queue):
    from backfill import service

    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    assert rq_queue.count == 1

    response = client.post(reverse(RUNS), {"action": "cancel_runs", "_selected_action": [run.pk]}, follow=True)

    run.refresh_from_db()
    assert run.status == BackfillRun.Status.CANCELED
    assert (f"Run {run.pk} canceled (2 queued job(s) canceled); no new stage starts."
            in [str(m) for m in response.context["messages"]])
    assert rq_queue.count == 0


def test_staff_without_the_permission_cannot_retry_or_cancel_runs(client, in_process, lineup, finished_match):
    from backfill import service

    run = service.start_backfill(service.plan_backfill(7), triggered_by="test")
    viewer = _user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_backfillrun"))
    client.force_login(viewer)

    page = client.get(reverse(RUNS)).content.decode()
    assert "retry_failed_items" not in page and "cancel_runs" not in page
    client.post(reverse(RUNS), {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED and BackfillRun.objects.count() == 1
