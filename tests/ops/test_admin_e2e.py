"""In headless Chromium at 1400 px, against a real `runserver` with DEBUG=False and no Redis (the embedded default):
static files load (WhiteNoise), the dashboard link explains itself, the match filters work, a 403 keeps the chrome."""

import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.backfill.processes import ROOT, child_env, stop, wait_until
from tests.backfill.test_admin_e2e import TIMEOUT_MS, browser  # noqa: F401 (the Chromium fixture)
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
VIEWPORT = {"width": 1400, "height": 900}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def server() -> Iterator[str]:
    """A real `manage.py runserver` on the test database: DEBUG off, REDIS_URL unset, no static handler of Django's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nostatic"],
        cwd=ROOT, env=child_env(REDIS_URL="", DJANGO_DEBUG="False"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _answers(f"{url}/admin/login/") or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.stdout.read()
        yield url
    finally:
        print(stop(proc))


def _page(chromium: Browser, base_url: str, username: str) -> Page:
    page = chromium.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "e2e-secret")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()
    return page


def _superuser() -> None:
    User.objects.create_superuser("boss", "boss@example.com", "e2e-secret")


def test_static_files_load_with_debug_off(server, browser: Browser) -> None:  # noqa: F811
    page = browser.new_page(viewport=VIEWPORT)
    css = []
    page.on("response", lambda r: css.append(r) if r.url.endswith("/static/admin/css/base.css") else None)
    page.goto(f"{server}/admin/login/")

    assert css and css[0].status == 200
    # Styled: the admin's header colour from base.css, not the browser's default transparent.
    background = page.locator("#header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")


def test_the_dashboard_link_explains_itself_without_redis(server, browser: Browser) -> None:  # noqa: F811
    _superuser()
    page = _page(browser, server, "boss")

    page.locator("#content-main a[href='/admin/django_rq/dashboard/']").first.click()

    expect(page.locator("#kickbench-message")).to_contain_text("Jobs run in-process (REDIS_URL is unset)")
    expect(page.locator("#header")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Server Error")


def test_the_match_list_filters_work(server, browser: Browser) -> None:  # noqa: F811
    _superuser()
    models = [PredictionModelFactory(), PredictionModelFactory()]
    past = timezone.now() - timedelta(days=1)
    complete = MatchFactory(finished=True, kickoff_time=past, settled_at=timezone.now())
    unsettled = MatchFactory(finished=True, kickoff_time=past)
    bare = MatchFactory(kickoff_time=timezone.now() + timedelta(days=2))
    retro = MatchFactory(finished=True, kickoff_time=past, settled_at=timezone.now())
    for match in (complete, unsettled, retro):
        MatchAnalysisFactory(match=match)
    for model in models:
        PredictionFactory(match=complete, model=model, status="scored")
        PredictionFactory(match=unsettled, model=model)
    PredictionFactory(match=retro, model=models[0], is_retroactive=True, status="scored")
    page = _page(browser, server, "boss")
    page.goto(f"{server}/admin/matches/match/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)

    expected = {
        "missing predictions": {bare.pk, retro.pk},
        "missing analysis": {bare.pk},
        "not settled": {unsettled.pk},
        "retroactive only": {retro.pk},
    }
    for title, ids in expected.items():
        page.goto(f"{server}/admin/matches/match/")
        page.locator("#changelist-filter details", has_text=title).locator("a", has_text="Yes").click()
        expect(page).to_have_url(re.compile(title.replace(" ", "_") + "=yes"))
        expect(rows).to_have_count(len(ids))
        shown = {int(v) for v in page.locator("#result_list input[name=_selected_action]").evaluate_all(
            "els => els.map(e => e.value)")}
        assert shown == ids, title
    # The columns fit 1400 px: no horizontal scrolling of the list.
    page.goto(f"{server}/admin/matches/match/")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]


def test_a_403_keeps_the_admin_chrome(server, browser: Browser) -> None:  # noqa: F811
    user = User.objects.create_user("viewer", password="e2e-secret", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match"))
    page = _page(browser, server, "viewer")

    response = page.goto(f"{server}/admin/matches/match/add/")

    assert response.status == 403
    expect(page.locator("#header")).to_be_visible()
    expect(page.locator("#kickbench-message")).to_contain_text("permission")
    expect(page.locator(".breadcrumbs")).to_contain_text("Permission denied")
