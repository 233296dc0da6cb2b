"""End to end in headless Chromium: an operator backfills matches from the admin and watches the run finish."""

import os
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

from backfill.models import BackfillRun
from matches.models import Match
from predictions.models import Prediction, PredictionModel
from tests.backfill.processes import start_worker, stop
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 30_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; the sync API runs an event loop, so let Django's ORM run beside it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed: scripts/test installs Debian's chromium (scripts/services)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            # launch() gives every browser a fresh temporary profile of its own.
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # With Playwright's loop running, Django keys connections by context, not thread: the test
                # body got a connection of its own, which pytest-django would never close.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _operator() -> User:
    user = User.objects.create_user(username="operator", password="e2e-secret", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["run_backfill", "view_match", "change_match", "view_backfillrun"]
    ))
    return user


def _log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/matches/match/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "e2e-secret")
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/matches/match/$"))


def test_operator_backfills_selected_matches_in_the_browser_and_the_run_page_reaches_succeeded(
    live_server, browser: Browser, redis_conn
) -> None:
    models = [
        PredictionModelFactory(slug=f"always-2-1-{i}", provider="fixed_score", config={"home": 2, "away": 1})
        for i in range(3)
    ]
    finished = MatchFactory(finished=True, home_score=2, away_score=1)
    scheduled = MatchFactory()
    cancelled = MatchFactory(status=Match.Status.CANCELLED)
    for match in (finished, scheduled):
        MatchAnalysisFactory(match=match)
    PredictionFactory(match=scheduled, model=models[0], predicted_home=2, predicted_away=1)
    _operator()

    worker = start_worker("e2e-admin")
    try:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        _log_in(page, live_server.url)

        for match in (finished, scheduled, cancelled):
            page.check(f"input[name=_selected_action][value='{match.pk}']")
        page.select_option("select[name=action]", label="Backfill selected matches")
        page.click("button[name=index]")

        expect(page.locator("h1")).to_have_text("Backfill 3 selected matches")
        plan = page.locator("#backfill-plan tbody tr")
        expect(plan).to_have_count(2)
        expect(plan.filter(has_text="predict → settle")).to_have_count(1)
        expect(page.locator("#backfill-skipped")).to_contain_text(f"Match {cancelled.pk} (cancelled)")
        assert not BackfillRun.objects.exists()

        page.click("#confirm-backfill")
        run = BackfillRun.objects.get()
        expect(page).to_have_url(re.compile(rf"/admin/backfill/backfillrun/{run.pk}/change/$"))
        expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=TIMEOUT_MS)
        expect(page.locator("#run-items .item-status")).to_have_text(["succeeded", "succeeded"])
        expect(page.locator("#run-summary")).not_to_contain_text("(refreshing)")
    finally:
        log = stop(worker)
        print(log)  # shown by pytest when the test fails

    run.refresh_from_db()
    assert run.status == BackfillRun.Status.SUCCEEDED, log
    active = set(PredictionModel.objects.filter(is_active=True).values_list("pk", flat=True))
    for match in (finished, scheduled):
        predictions = list(Prediction.objects.filter(match=match).values_list("model_id", flat=True))
        assert sorted(predictions) == sorted(active)
    assert set(Prediction.objects.filter(match=finished).values_list("status", flat=True)) == {"scored"}
    finished.refresh_from_db()
    assert finished.quota_home is not None
    assert not Prediction.objects.filter(match=cancelled).exists()
