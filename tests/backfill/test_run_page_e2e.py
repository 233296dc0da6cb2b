"""In Chromium at 1400 px, embedded and on Redis: a big backfill never blocks the admin, its page
advances, cancel stops it with a true record, and a 5,000-item run page is quick and read-only."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from backfill.models import BackfillItem, BackfillRun
from matches.models import Competition, Match, MatchAnalysis, Team
from predictions.models import Prediction
from tests.backfill.processes import start_worker, stop, wait_until
from tests.backfill.test_admin_e2e import TIMEOUT_MS, _log_in, _operator, browser  # noqa: F401 (fixture)
from tests.factories import PredictionModelFactory
from tests.fakes.fake_llm import FakeLLMServer, good

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODES = ["embedded", "redis"]


@pytest.fixture(params=MODES)
def mode(request, settings):
    """The embedded default (no Redis: a background process) or Redis with a real RQ worker."""
    if request.param == "embedded":
        settings.REDIS_URL = ""
        yield request.param
        return
    request.getfixturevalue("redis_conn")
    worker = start_worker("e2e-runs")
    try:
        yield request.param
    finally:
        print(stop(worker))


def _matches(n: int, *, finished: bool = True, analysis: bool = True) -> list[Match]:
    """``n`` matches of one competition in bulk (factories would take minutes for thousands)."""
    competition = Competition.objects.create(name="Premier League", code="en.1", season=2024)
    teams = Team.objects.bulk_create(Team(name=f"Club {i:04d}") for i in range(2 * n))
    now = timezone.now()
    matches = Match.objects.bulk_create(
        Match(external_id=700000 + i, competition=competition, home_team=teams[2 * i], away_team=teams[2 * i + 1],
              kickoff_time=now - timedelta(days=1, minutes=i), round="Regular Season - 1",
              status=Match.Status.FINISHED if finished else Match.Status.SCHEDULED,
              status_code="FT" if finished else "NS", home_score=2 if finished else None,
              away_score=1 if finished else None)
        for i in range(n)
    )
    if analysis:
        MatchAnalysis.objects.bulk_create(
            MatchAnalysis(match=m, as_of=m.kickoff_time, data={"schema": 1, "history": []}) for m in matches
        )
    return matches


def _progress(page: Page) -> int:
    """The progress bar's value, read between the page's own refreshes."""
    try:
        return int(page.locator("#run-progress-bar").get_attribute("value", timeout=2_000) or 0)
    except Exception:
        return -1


def _new_page(chromium: Browser) -> Page:
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_a_300_match_backfill_returns_at_once_advances_and_cancel_stops_it_with_a_true_record(
    live_server, browser: Browser, mode  # noqa: F811
) -> None:
    with FakeLLMServer(api_key=None) as llm:
        llm.configure("slow-llm", default=good(1, 1), latency=0.3)
        PredictionModelFactory(slug="always-2-1", provider="fixed_score", config={"home": 2, "away": 1})
        PredictionModelFactory(slug="slow-llm", provider="openai_compatible",
                               config={"model": "slow-llm", "base_url": llm.base_url, "api_key_optional": True,
                                       "timeout": 30, "max_retries": 0})
        matches = _matches(300)
        _operator()
        page = _new_page(browser)
        _log_in(page, live_server.url)

        page.check("#action-toggle")
        page.click("text=Select all 300")
        page.select_option("select[name=action]", label="Backfill selected matches")
        page.click("button[name=index]")
        expect(page.locator("h1")).to_have_text("Backfill 300 selected matches")
        expect(page.locator("#backfill-cost")).to_contain_text("300")
        expect(page.locator("#backfill-plan tbody tr")).to_have_count(300)

        started = time.monotonic()
        with page.expect_navigation(url="**/backfillrun/*/change/"):
            page.click("#confirm-backfill")
        returned = time.monotonic() - started
        print(f"{mode}: the action returned in {returned:.2f} s for 300 matches")
        assert returned < 2.0
        run = BackfillRun.objects.get()
        assert run.items.count() == 300 and not run.is_finished
        expect(page.locator(".messagelist .success")).to_contain_text(f"Backfill run {run.pk} started")

        assert wait_until(lambda: _progress(page) >= 1, timeout=90)
        first = _progress(page)
        assert wait_until(lambda: _progress(page) > first, timeout=60)  # the bar advances by itself

        page.goto(f"{live_server.url}/admin/backfill/backfillrun/{run.pk}/change/")
        page.click("#run-cancel")
        expect(page.locator("#run-status")).to_have_text("Canceled")
        assert wait_until(lambda: not run.items.filter(status__in=("queued", "in_flight", "running")).exists(),
                          timeout=60)
        if mode == "embedded":
            run.refresh_from_db()
            assert wait_until(lambda: not Path(f"/proc/{run.worker_pid}").exists(), timeout=30)
        asked = llm.count("slow-llm")

    run.refresh_from_db()
    items = list(run.items.all())
    done = [i for i in items if i.status == BackfillItem.Status.SUCCEEDED]
    assert run.status == BackfillRun.Status.CANCELED and 0 < len(done) < 300
    scored = {m: c for m, c in _scored_counts([m.pk for m in matches]).items()}
    for item in items:
        complete = scored.get(item.match_id, 0) == 2
        assert (item.status == BackfillItem.Status.SUCCEEDED) == complete, (item.match_id, item.status, item.error)
        assert item.status in (BackfillItem.Status.SUCCEEDED, BackfillItem.Status.CANCELED)
    made = Prediction.objects.count()
    assert sum(i.predictions_created for i in items) == made
    assert Prediction.objects.filter(model__slug="slow-llm").count() == asked  # no call started after the cancel

    page.reload()
    expect(page.locator("#run-progress-text")).to_contain_text("300 of 300 match(es) finished")
    # Predictions made count: an item canceled before its settlement is past its predict stage.
    predicted = sum(i.predictions_created == 2 for i in items)
    assert predicted >= len(done)
    expect(page.locator("#run-stages .run-stage[data-stage=predict] .stage-done")).to_have_text(str(predicted))
    expect(page.locator("#run-stages .run-stage[data-stage=settle] .stage-done")).to_have_text(str(len(done)))


def _scored_counts(match_ids: list[int]) -> dict[int, int]:
    from django.db.models import Count

    rows = (Prediction.objects.filter(match_id__in=match_ids, status="scored").values("match_id")
            .annotate(n=Count("pk")).values_list("match_id", "n"))
    return dict(rows)


def test_the_page_of_a_5000_item_run_loads_in_under_a_second_lists_each_item_once_and_is_read_only(
    live_server, browser: Browser, mode  # noqa: F811
) -> None:
    matches = _matches(5000, analysis=False)
    run = BackfillRun.objects.create(
        triggered_by="test", days=7, status=BackfillRun.Status.SUCCEEDED,
        plan={"estimate": {"analyses": 0, "predictions": 15000, "llm_calls": 0, "settlements": 5000,
                           "api_football_requests_max": 0}, "active_models": 3,
              "skipped": [{"match_id": i, "status": "cancelled", "reason": "never predicted"} for i in range(800)]},
    )
    BackfillItem.objects.bulk_create(
        BackfillItem(run=run, match=m, stages=["predict", "settle"], stage="done", status="succeeded",
                     predictions_created=3, settled=True)
        for m in matches
    )
    _operator()
    page = _new_page(browser)
    _log_in(page, live_server.url)
    url = f"{live_server.url}/admin/backfill/backfillrun/{run.pk}/change/"
    page.goto(url)  # warm the server's code paths once

    started = time.monotonic()
    page.goto(url, wait_until="load")
    loaded = time.monotonic() - started
    size = len(page.content())
    print(f"{mode}: the page of a 5,000-item run loaded in {loaded:.3f} s ({size} bytes)")
    assert loaded < 1.0

    rows = page.locator("#run-items tbody tr")
    first = rows.evaluate_all("rows => rows.map(r => r.dataset.match)")
    assert len(first) == len(set(first)) == 100
    expect(page.locator("#run-items-pages")).to_contain_text("page 1 of 50 (5000 items)")
    page.click("#run-items-next")
    second = rows.evaluate_all("rows => rows.map(r => r.dataset.match)")
    assert len(second) == 100 and not set(first) & set(second)
    expect(page.locator("#run-progress-text")).to_contain_text("5000 of 5000")
    expect(page.locator("#run-skipped summary")).to_have_text("800 matches: never predicted")
    expect(page.locator("input[name=_save], input[name=_continue], a.deletelink")).to_have_count(0)
