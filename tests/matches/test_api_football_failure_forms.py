"""Issue 12 for API-Football: a trickling server, a huge body and deep nesting, over real HTTP."""

import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from matches.api_football import ApiTimeout, MalformedResponse, ResponseTooLarge
from tests.fakes.fake_api_football import Fault, make_fixture

DEADLINE_SLACK = 1.0


@pytest.fixture
def make_client(api_client_factory):
    return lambda **overrides: api_client_factory(
        {"timeout": 1.0, "max_retries": 0, "rate_limit_pause": 0.01}, **overrides)


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_server_is_cut_off_at_the_calls_deadline(make_client, fake, phase):
    fake.inject("fixtures", Fault.trickle(interval=0.2, phase=phase))

    started = time.monotonic()
    with pytest.raises(ApiTimeout, match=r"no complete answer within 1\.0s"):
        make_client().fixtures(league=39, season=2024)

    assert 1.0 <= time.monotonic() - started < 1.0 + DEADLINE_SLACK
    assert fake.request_count("fixtures") == 1


def test_a_trickle_is_retried_as_a_timeout_and_the_next_answer_counts(make_client, fake):
    fake.inject("fixtures", Fault.trickle(interval=0.2))

    started = time.monotonic()
    fixtures = make_client(timeout=0.6, max_retries=1).fixtures(league=39, season=2024)

    assert len(fixtures) == 12
    assert time.monotonic() - started < 0.6 + DEADLINE_SLACK + 0.5
    assert fake.request_count("fixtures") == 2


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_body_stops_at_the_cap_with_bounded_memory(make_client, fake, declare_length):
    cap = 1024 * 1024
    fake.inject("fixtures", Fault.huge(50 * 1024 * 1024, declare_length=declare_length), Fault.slow(0))

    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge, match=r"exceeds the cap of 1048576 bytes \(API_FOOTBALL_MAX_BYTES\)"):
            make_client(max_bytes=cap, timeout=5.0, max_retries=2).fixtures(league=39, season=2024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * cap  # the cap and a few chunks, never the 50 MB
    assert fake.request_count("fixtures") == 1  # not retried: the next body would be as large


def a_season_of_fixtures(teams: int = 20) -> list[dict]:
    """A double round robin of ``teams`` (380 fixtures for 20), every field filled as when finished."""
    start = datetime(2024, 8, 17, 14, 0, tzinfo=UTC)
    pairs = [(h, a) for h in range(teams) for a in range(teams) if h != a]
    return [
        make_fixture(
            2_000_000 + n, kickoff=start + timedelta(hours=n), home=(100 + h, f"Home Team {h:02d} FC"),
            away=(100 + a, f"Away Team {a:02d} FC"), status="FT", goals=(2, 1), halftime=(1, 0), fulltime=(2, 1),
            referee="Michael Oliver, England", venue=(500 + h, f"Stadium {h:02d}", "Some City"),
            round=f"Regular Season - {n // 10 + 1}",
        )
        for n, (h, a) in enumerate(pairs)
    ]


def test_the_default_cap_holds_a_season_of_fixtures_with_room_to_spare(make_client, fake):
    season = a_season_of_fixtures()
    fake.set_fixtures(season)
    page_bytes = len(json.dumps({"response": season}))

    client = make_client(max_bytes=settings.API_FOOTBALL_MAX_BYTES)

    assert len(client.fixtures(league=39, season=2024)) == 380
    assert page_bytes * 8 < settings.API_FOOTBALL_MAX_BYTES


def test_a_deeply_nested_body_is_malformed_not_a_recursion_error(make_client, fake):
    fake.inject("fixtures", Fault.deep_nesting(100_000))

    started = time.monotonic()
    with pytest.raises(MalformedResponse, match="nested deeper than 32 levels"):
        make_client().fixtures(league=39, season=2024)

    assert time.monotonic() - started < 1.0
    assert fake.request_count("fixtures") == 1
