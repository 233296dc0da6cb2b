"""API-Football's shared "source down" mark (matches.api_football.outage), over real HTTP to the fake."""

import pytest

from matches.api_football import ApiFootballClient, ServerError, SourceDown, outage

MAX_RETRIES = 4


@pytest.fixture
def make_client(api_client_factory):
    return lambda **overrides: api_client_factory(
        {"timeout": 2.0, "max_retries": MAX_RETRIES, "down_after_failures": 3, "down_seconds": 30.0}, **overrides)


def _sent(fake) -> int:
    return len(fake.requests)


def test_callers_that_do_not_opt_in_keep_every_retry_and_the_failures_still_mark_the_source_down(make_client, fake):
    fake.go_down(60)
    client = make_client()
    with pytest.raises(ServerError) as caught:
        client.fixtures(league=39, season=2024)
    assert not isinstance(caught.value, SourceDown)
    assert _sent(fake) == MAX_RETRIES + 1
    assert 29 < client.health.down_for() <= 30


def test_failing_fast_stops_retrying_at_the_threshold_and_then_sends_nothing_in_any_process(make_client, fake):
    fake.go_down(60)
    with outage.fail_fast():
        with pytest.raises(SourceDown) as first:
            make_client().fixtures(league=39, season=2024)
        assert _sent(fake) == 3  # the third consecutive failure marks it down: no fourth attempt
        assert 29 < first.value.retry_after <= 30 and "not retried" in first.value.message
        with pytest.raises(SourceDown, match="not sent"):
            make_client().head_to_head(33, 34)  # a new client (as in another work horse): same account, Redis
    assert _sent(fake) == 3


def test_an_answer_clears_the_mark(make_client, fake, redis_conn):
    fake.go_down(60)
    with pytest.raises(ServerError):
        make_client().fixtures(league=39, season=2024)
    fake.go_down(0)  # back up
    assert make_client().fixtures(league=39, season=2024)  # a caller that does not fail fast sends
    with outage.fail_fast():
        assert make_client().fixtures(league=39, season=2024)
    assert not redis_conn.keys("KICKBENCH:source-*")


def test_a_bad_request_does_not_count_as_the_source_being_down(make_client, fake):
    fake.go_down(60)
    client = make_client()
    client.health.failed()
    client.health.failed()  # two in a row, one more would mark it
    fake.go_down(0)
    with outage.fail_fast(), pytest.raises(Exception) as caught:
        client.get("fixtures", bogus="x")
    assert not isinstance(caught.value, SourceDown) and client.health.down_for() == 0


def test_without_redis_the_mark_is_kept_in_the_process(fake):
    with ApiFootballClient(base_url=fake.base_url, api_key=fake.api_key, max_retries=0, down_after_failures=1,
                           down_seconds=30.0) as client:
        fake.go_down(60)
        with outage.fail_fast(), pytest.raises(SourceDown):
            client.fixtures(league=39, season=2024)
        with outage.fail_fast(), pytest.raises(SourceDown, match="not sent"):
            client.fixtures(league=39, season=2024)
        assert _sent(fake) == 1
        fake.go_down(0)
        assert client.fixtures(league=39, season=2024)  # not failing fast: sent, and the answer clears it
        assert client.health.down_for() == 0
