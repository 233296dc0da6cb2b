"""Fixtures shared by the API-Football client tests: the fake server and clients pointed at it."""

from collections.abc import Callable

import pytest
from django.conf import settings

from matches.api_football import ApiFootballClient
from tests.fakes.fake_api_football import FakeApiFootball, demo_dataset


@pytest.fixture
def fake():
    with FakeApiFootball(fixtures=demo_dataset()) as server:
        yield server


@pytest.fixture
def api_client_factory(fake, redis_conn) -> Callable[..., ApiFootballClient]:
    """``factory(defaults, server=None, **overrides)``: a client against ``server`` (the fake by default), with
    fast backoff and the budget in the tests' Redis database; each test file passes its own defaults. All are
    closed at the end of the test."""
    clients = []

    def make(defaults: dict, server: FakeApiFootball | None = None, **overrides) -> ApiFootballClient:
        server = server or fake
        kwargs = {"base_url": server.base_url, "api_key": server.api_key, "backoff_base": 0.01,
                  "backoff_cap": 0.05, "redis_url": settings.REDIS_URL, **defaults, **overrides}
        clients.append(ApiFootballClient(**kwargs))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
