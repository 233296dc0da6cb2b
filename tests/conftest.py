import pytest
import redis
from django.conf import settings


@pytest.fixture
def redis_conn():
    """The tests' own Redis database, emptied before and after each test."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: the tests run against a real Redis (see scripts/test)")
    conn = redis.Redis.from_url(settings.REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(autouse=True)
def _forget_exhausted_days():
    """The in-process exhausted-day mark is keyed by host:port; a later fake server may reuse a port."""
    from matches.api_football import budget

    budget._exhausted_days.clear()
    yield
    budget._exhausted_days.clear()
