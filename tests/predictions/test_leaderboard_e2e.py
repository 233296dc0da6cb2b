"""The admin leaderboard in headless Chromium at 1400 px: it renders, filters work, charts are drawn, nothing leaves."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Browser, expect

from tests.backfill.test_admin_e2e import TIMEOUT_MS, browser  # noqa: F401 - the shared Chromium fixture
from tests.predictions.leaderboard_data import build_scene

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_leaderboard_page_renders_filters_and_draws_in_chromium_without_outside_requests(
    live_server, browser: Browser  # noqa: F811
) -> None:
    build_scene()
    user = User.objects.create_user(username="analyst", password="e2e-secret", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_prediction"))

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # (page, message): Django's own login and changelist pages ask for a /favicon.ico that does not exist.
    console_errors: list[tuple[str, str]] = []
    page.on("console", lambda m: console_errors.append((page.url, m.text)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append((page.url, str(exc))))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", "e2e-secret")
    page.click("input[type=submit]")
    page.click("#leaderboard-link")
    expect(page).to_have_url(re.compile(r"/admin/predictions/prediction/leaderboard/$"))

    rows = page.locator("#leaderboard tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_have_attribute("data-model", "alpha")
    expect(page.locator("#leaderboard tr.flagged")).to_have_attribute("data-model", "cheat")
    expect(page.locator("#contamination tr.flagged")).to_have_count(1)
    for polyline in page.locator("svg.trend polyline").all():
        assert len(polyline.get_attribute("points").split()) >= 2
        box = polyline.bounding_box()
        assert box and box["width"] > 40  # drawn across the chart, not a dot
    intervals = page.locator("svg.ci-bar rect.interval")
    expect(intervals).to_have_count(4)
    widths = [rect.get_attribute("width") for rect in intervals.all()]
    assert all(float(w) > 0 for w in widths), widths
    # Readable at 1400 px: the page fits without a horizontal scroll bar.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    page.select_option("#id_competition", ["de.1"])
    page.click("#apply-filters")
    expect(rows).to_have_count(3)
    expect(page.locator("#leaderboard tr[data-model='england-only']")).to_have_count(0)

    page.check("#id_include_retroactive")
    page.click("#apply-filters")
    expect(page.locator("#leaderboard-scope")).to_contain_text("all settled predictions")

    page.locator("#leaderboard tr[data-model='beta'] a.model-link").click()
    expect(page).to_have_url(re.compile(r"/admin/predictions/prediction/\?"))
    expect(page.locator("#result_list th.column-total_points")).to_have_count(1)

    on_leaderboard = [error for error in console_errors if "/leaderboard/" in error[0]]
    assert not on_leaderboard, on_leaderboard
    hosts = {urlsplit(url).netloc for url in requests if not url.startswith(("data:", "about:"))}
    assert hosts == {urlsplit(live_server.url).netloc}, hosts
