"""A shared "source down" mark: API-Football answered 5xx or nothing to several requests in a row.

Without it, every worker that picks up an analysis during an outage holds on to it through the
client's retries with backoff (about 15 s a job), while jobs that need no API-Football wait. With
it, after ``threshold`` consecutive transient failures (counted across processes, in Redis when
``REDIS_URL`` is set, like the budget), the source counts as down for ``down_seconds``; any success
clears it. Callers that can come back later (a backfill analysis under RQ) opt in with
``fail_fast()``: then no request is sent while the mark holds and a failure that sets it ends the
client's retries, both as ``SourceDown``. Everyone else keeps the client's retries as before.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar

import redis

from matches.api_football.budget import shared_redis_client

logger = logging.getLogger(__name__)

_failing_fast: ContextVar[bool] = ContextVar("api_football_failing_fast", default=False)
# The in-process marks (no Redis): name -> (consecutive failures, down until on time.monotonic()).
_local: dict[str, tuple[int, float]] = {}
_local_lock = threading.Lock()


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """Inside: while API-Football is marked down, requests raise ``SourceDown`` instead of waiting."""
    token = _failing_fast.set(True)
    try:
        yield
    finally:
        _failing_fast.reset(token)


def failing_fast() -> bool:
    return _failing_fast.get()


class SourceHealth:
    """Consecutive transient failures of one account's requests, and the down mark they set."""

    def __init__(self, name: str, *, threshold: int, down_seconds: float, redis_url: str | None = None) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.down_seconds = max(0.0, down_seconds)
        self.failures_key = f"KICKBENCH:source-failures:{name}"
        self.down_key = f"KICKBENCH:source-down:{name}"
        self._redis = shared_redis_client(redis_url) if redis_url else None

    @property
    def enabled(self) -> bool:
        return self.down_seconds > 0

    def down_for(self) -> float:
        """Seconds the mark still holds (0: the source is not marked down)."""
        if not self.enabled:
            return 0.0
        if self._redis is None:
            with _local_lock:
                return max(0.0, _local.get(self.name, (0, 0.0))[1] - time.monotonic())
        try:
            ttl_ms = self._redis.pttl(self.down_key)
        except redis.RedisError:
            return 0.0  # the mark only saves time; the request path reports Redis itself
        return ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else 0.0

    def failed(self) -> float:
        """Count a transient failure; returns ``down_for()`` afterwards (marks down at the threshold)."""
        if not self.enabled:
            return 0.0
        if self._redis is None:
            with _local_lock:
                count, until = _local.get(self.name, (0, 0.0))
                count += 1
                if count >= self.threshold:
                    until = time.monotonic() + self.down_seconds
                _local[self.name] = (count, until)
            return self.down_for()
        try:
            with self._redis.pipeline() as pipe:
                # A success clears the count; without one, failures a minute apart still add up.
                count = pipe.incr(self.failures_key).expire(self.failures_key, 60).execute()[0]
            if count >= self.threshold and self._redis.set(self.down_key, count, px=int(self.down_seconds * 1000),
                                                           nx=True):
                logger.warning("API-Football marked down for %.0fs after %s consecutive failures",
                               self.down_seconds, count, extra={"source": self.name, "failures": count})
        except redis.RedisError:
            logger.warning("could not share API-Football's failure count in Redis", exc_info=True)
        return self.down_for()

    def succeeded(self) -> None:
        """An answer came: the source is up."""
        if not self.enabled:
            return
        if self._redis is None:
            with _local_lock:
                _local.pop(self.name, None)
            return
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(self.failures_key, self.down_key)
