"""The API-Football client over real HTTP against the local fake: one test per error form and retry rule."""

import logging
import time
from datetime import UTC, date, datetime

import pytest

from matches.api_football import (
    ApiConnectionError,
    ApiFootballClient,
    ApiTimeout,
    AuthError,
    BadRequest,
    DailyQuotaExhausted,
    MalformedResponse,
    MissingApiKey,
    PlanError,
    ProviderBug,
    RateLimited,
    ServerError,
)
from tests.fakes.fake_api_football import FakeApiFootball, Fault, demo_dataset, make_fixture

MAX_RETRIES = 3


@pytest.fixture
def make_client(api_client_factory):
    """Clients against ``fake`` (or another server) with fast retries and the budget in the tests' Redis."""
    return lambda server=None, **overrides: api_client_factory(
        {"timeout": 2.0, "max_retries": MAX_RETRIES, "rate_limit_pause": 0.01}, server, **overrides)


# --- success ------------------------------------------------------------------------


def test_fixtures_returns_the_response_list_and_sends_string_parameters(make_client, fake):
    items = make_client().fixtures(league=39, season=2024, from_=date(2024, 8, 1), to=date(2024, 8, 24))

    assert {item["fixture"]["id"] for item in items} == {1_100_000, 1_100_001, 1_100_002, 1_100_003}
    assert fake.requests[-1].params == {"league": "39", "season": "2024", "from": "2024-08-01", "to": "2024-08-24"}


def test_get_returns_the_whole_envelope(make_client):
    envelope = make_client().get("fixtures", league=39, season=2024)

    assert envelope["errors"] == []
    assert envelope["parameters"] == {"league": "39", "season": "2024"}
    assert envelope["results"] == len(envelope["response"]) == 12
    assert envelope["paging"] == {"current": 1, "total": 1}


def test_an_empty_day_is_an_empty_list_not_an_error(make_client):
    assert make_client().fixtures(date="2030-01-01") == []


def test_status_is_an_object_and_does_not_use_daily_quota(make_client, fake):
    before = fake.daily_remaining
    status = make_client().status()

    assert status["subscription"]["plan"] == "Pro"
    assert fake.daily_remaining == before


def test_head_to_head_sends_both_ids_and_sorts_by_kickoff(make_client, fake):
    meetings = make_client().head_to_head(34, 33)

    assert fake.requests[-1].params == {"h2h": "34-33"}
    timestamps = [m["fixture"]["timestamp"] for m in meetings]
    assert len(timestamps) == 2 and timestamps == sorted(timestamps)


# --- errors inside HTTP 200 -------------------------------------------------------------


def test_a_wrong_key_is_an_auth_error_and_is_not_retried(make_client, fake):
    with pytest.raises(AuthError, match="application key"):
        make_client(api_key="not-the-key").fixtures(league=39, season=2024)

    assert fake.request_count() == 1


def test_an_expired_subscription_is_an_auth_error_and_is_not_retried(make_client, fake):
    fake.inject("fixtures", Fault.subscription_expired())

    with pytest.raises(AuthError, match="expired"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


def test_daily_quota_error_is_not_retried_and_stops_further_requests_today(make_client, fake):
    fake.inject("fixtures", Fault.daily_quota())
    client = make_client()

    with pytest.raises(DailyQuotaExhausted, match="00:00 UTC"):
        client.fixtures(league=39, season=2024)
    with pytest.raises(DailyQuotaExhausted, match="was not sent"):
        make_client().fixtures(league=39, season=2024)  # another client of the same account, same process
    assert fake.request_count() == 1
    assert client.status()["requests"]["limit_day"] == fake.daily_limit  # /status is free and still allowed


def test_the_exhausted_day_is_shared_through_redis_with_other_processes(make_client, fake, redis_conn):
    """Each RQ job runs in a fresh work horse: an in-memory mark would let each send one more request."""
    from matches.api_football import budget

    fake.inject("fixtures", Fault.daily_quota())
    with pytest.raises(DailyQuotaExhausted):
        make_client().fixtures(league=39, season=2024)
    budget._exhausted_days.clear()  # what another process sees: only Redis

    with pytest.raises(DailyQuotaExhausted, match="was not sent"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1
    (key,) = redis_conn.keys("KICKBENCH:exhausted-day:*")
    assert 0 < redis_conn.ttl(key) <= 24 * 3600  # gone at the next 00:00 UTC


def test_a_remaining_daily_count_of_zero_stops_the_next_request(make_client, redis_conn):
    with FakeApiFootball(fixtures=demo_dataset(), daily_limit=2) as small:
        client = make_client(small)
        client.fixtures(league=39, season=2024)
        client.fixtures(league=39, season=2024)  # the last one of the day still answers
        assert client.quota.daily_remaining == 0

        with pytest.raises(DailyQuotaExhausted):
            client.fixtures(league=39, season=2024)
        assert small.request_count() == 2


@pytest.mark.parametrize(
    "fault",
    [Fault.plan_season(), Fault.plan_date(), Fault.plan_parameter("Last")],
    ids=["season", "date", "parameter"],
)
def test_plan_errors_are_not_retried(make_client, fake, fault):
    fake.inject("fixtures", fault)

    with pytest.raises(PlanError, match="Free plans"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


def test_a_missing_parameter_is_a_bad_request_with_the_field_and_is_not_retried(make_client, fake):
    with pytest.raises(BadRequest) as caught:
        make_client().fixtures(league=39)  # the real API requires a season with a league

    assert caught.value.errors == {"season": "The Season field is required."}
    assert fake.request_count() == 1


def test_a_rate_limit_error_in_a_200_is_retried_and_succeeds(make_client, fake):
    fake.inject("fixtures", Fault.rate_limit())

    assert len(make_client().fixtures(league=39, season=2024)) == 12
    assert [r.outcome for r in fake.requests] == ["rateLimit", "ok"]


def test_the_newer_rate_limit_wording_is_retried_too(make_client, fake):
    fake.inject("fixtures", Fault.rate_limit(newer_wording=True))

    make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 2


def test_a_persistent_rate_limit_is_raised_after_one_pause(make_client, fake):
    """One pause of the provider's minute, then the caller's own retry (an RQ job's) takes over."""
    fake.inject("fixtures", *[Fault.rate_limit()] * (MAX_RETRIES + 1))

    with pytest.raises(RateLimited):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 2


def test_errors_as_a_list_of_strings_are_classified_by_message(make_client, fake):
    fake.inject("fixtures", Fault.errors_as_list())  # the daily-limit message, in a list

    with pytest.raises(DailyQuotaExhausted):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


@pytest.mark.parametrize("message", [
    "Too many requests. Your rate limit is 10 requests per minute.",
    "Too many requests. You have exceeded the limit of requests per minute of your subscription.",
])
def test_a_rate_limit_message_in_a_list_is_retried_even_when_it_mentions_the_subscription(make_client, fake, message):
    fake.inject("fixtures", Fault.errors_as_list([message]))

    assert len(make_client().fixtures(league=39, season=2024)) == 12
    assert fake.request_count() == 2


def test_errors_as_a_list_with_a_bug_object_are_a_provider_bug(make_client, fake):
    fake.inject("fixtures", Fault.errors_as_list([{"time": "2026-01-01T00:00:00+00:00", "bug": "on our side"}]))

    with pytest.raises(ProviderBug):
        make_client().fixtures(league=39, season=2024)


def test_errors_as_a_list_with_an_unknown_message_are_a_bad_request(make_client, fake):
    fake.inject("fixtures", Fault.errors_as_list(["Something unexpected"]))

    with pytest.raises(BadRequest, match="Something unexpected"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


# --- HTTP status forms -----------------------------------------------------------------------


@pytest.mark.parametrize("with_body", [True, False], ids=["rateLimit-body", "empty-body"])
def test_http_429_is_retried_and_succeeds(make_client, fake, with_body):
    fake.inject("fixtures", Fault.http_429(with_body=with_body))

    make_client().fixtures(league=39, season=2024)
    assert [r.status for r in fake.requests] == [429, 200]


def test_http_204_with_a_bug_report_is_a_provider_bug_and_is_not_retried(make_client, fake):
    fake.inject("fixtures", Fault.bug_204())

    with pytest.raises(ProviderBug, match="204"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


@pytest.mark.parametrize("status", [499, 500, 503])
def test_server_errors_are_retried_and_succeed(make_client, fake, status):
    fake.inject("fixtures", Fault.server_error(status))

    assert len(make_client().fixtures(league=39, season=2024)) == 12
    assert [r.status for r in fake.requests] == [status, 200]


def test_a_persistent_server_error_raises_with_the_providers_message(make_client, fake):
    fake.inject("fixtures", *[Fault.server_error(500)] * (MAX_RETRIES + 1))

    with pytest.raises(ServerError, match="Something went wrong") as caught:
        make_client().fixtures(league=39, season=2024)
    assert caught.value.status_code == 500
    assert fake.request_count() == MAX_RETRIES + 1


def test_a_malformed_json_body_is_not_retried(make_client, fake):
    fake.inject("fixtures", Fault.malformed())

    with pytest.raises(MalformedResponse, match="not JSON"):
        make_client().fixtures(league=39, season=2024)
    assert fake.request_count() == 1


def test_a_slow_response_times_out_and_the_retry_succeeds(make_client, fake):
    fake.inject("fixtures", Fault.slow(1.0))

    assert len(make_client(timeout=0.3).fixtures(league=39, season=2024)) == 12
    time.sleep(1.0)  # the fake logs a request when it answers: let the slow one finish
    assert fake.request_count() == 2


def test_a_server_that_never_answers_in_time_raises_api_timeout(make_client, fake):
    fake.inject("fixtures", *[Fault.slow(0.6)] * 2)

    with pytest.raises(ApiTimeout):
        make_client(timeout=0.2, max_retries=1).fixtures(league=39, season=2024)
    time.sleep(0.5)  # let the slow handlers finish before the fake stops
    assert fake.request_count() == 2


def test_a_refused_connection_is_retried_then_raised(make_client):
    with FakeApiFootball() as gone:
        url = gone.base_url
    with pytest.raises(ApiConnectionError):
        make_client(base_url=url, max_retries=1).fixtures(league=39, season=2024)


def test_a_missing_key_is_refused_before_any_request():
    with pytest.raises(MissingApiKey, match="API_FOOTBALL_KEY"):
        ApiFootballClient(base_url="http://127.0.0.1:9", api_key="")


# --- the key stays secret -------------------------------------------------------------------


def test_the_key_never_appears_in_exceptions_reprs_or_logs(make_client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    # A provider message that echoes the key must be redacted too.
    fake.inject("fixtures", Fault.server_error(500), Fault.envelope_error({"token": f"key {fake.api_key} is wrong"}))

    with pytest.raises(AuthError) as caught:
        client.fixtures(league=39, season=2024)

    for text in (str(caught.value), repr(caught.value), str(caught.value.errors), repr(client), caplog.text):
        assert fake.api_key not in text
    assert "<redacted>" in str(caught.value)
    assert "retrying" in caplog.text  # the retry was logged, without the key


# --- quota headers and pacing ---------------------------------------------------------------


@pytest.mark.parametrize("lowercase", [False, True], ids=["X-RateLimit-mixed-case", "all-lowercase"])
def test_quota_headers_are_read_case_insensitively(make_client, redis_conn, lowercase):
    with FakeApiFootball(fixtures=demo_dataset(), lowercase_headers=lowercase, minute_limit=30) as server:
        client = make_client(server)
        client.fixtures(league=39, season=2024)

    assert client.quota.minute_limit == 30
    assert client.quota.minute_remaining == 29
    assert client.quota.daily_limit == 7500
    assert client.quota.daily_remaining == 7499


def test_the_client_slows_down_when_the_minutes_remainder_runs_low(make_client, redis_conn):
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    with FakeApiFootball(fixtures=demo_dataset(), minute_limit=20) as server:
        client = make_client(server, sleep=sleep, window_seconds=1)
        for _ in range(18):  # remainder 2 of 20: not low yet (low is 10 %)
            client.get("fixtures", id=1_100_000)
        assert pauses == []
        client.get("fixtures", id=1_100_000)  # remainder 1
        client.get("fixtures", id=1_100_000)

    assert len(pauses) == 1 and 0 < pauses[0] <= 0.05


def test_the_in_process_budget_blocks_until_a_slot_frees(make_client, fake):
    client = make_client(redis_url=None, requests_per_minute=3, window_seconds=1)

    for _ in range(4):
        client.get("fixtures", id=1_100_000)

    times = [r.time for r in fake.requests]
    assert times[3] - times[0] >= 1.0  # the fourth waited for the first to leave the window


def test_fixture_dates_stay_utc_through_the_timezone_parameter(make_client):
    kickoff = datetime(2024, 8, 17, 19, 0, tzinfo=UTC)
    with FakeApiFootball(fixtures=[make_fixture(7, kickoff=kickoff, home=(1, "A"), away=(2, "B"))]) as server:
        (item,) = make_client(server).fixtures(id=7, timezone="Europe/Amsterdam")

    assert item["fixture"]["date"] == "2024-08-17T21:00:00+02:00"
    assert item["fixture"]["timestamp"] == int(kickoff.timestamp())


# --- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_per_attempt_with_equal_jitter_and_stops_at_the_cap():
    client = ApiFootballClient(base_url="http://127.0.0.1:9", api_key="k", backoff_base=1.0, backoff_cap=8.0,
                               rate_limit_pause=0.0)
    transient = ServerError("boom")
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = [client._backoff(attempt, transient) for _ in range(300)]
        # Equal jitter: half the ceiling fixed, half random, so retries of many workers spread out.
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 4, "no jitter"
    client.close()


def test_a_per_minute_limit_waits_at_least_the_pause_or_the_retry_after_within_the_cap():
    client = ApiFootballClient(base_url="http://127.0.0.1:9", api_key="k", backoff_base=1.0, backoff_cap=60.0,
                               rate_limit_pause=30.0)
    assert 30.0 <= client._backoff(0, RateLimited("slow down")) <= 60.0
    assert client._backoff(0, RateLimited("slow down", retry_after=45.0)) >= 45.0
    assert client._backoff(0, RateLimited("slow down", retry_after=600.0)) == 60.0
    assert client._backoff(0, ServerError("boom")) <= 1.0
    client.close()
