"""A request budget (N requests per W seconds) shared by every process.

API-Football counts requests per account, not per process: a backfill with
several workers must share one budget, so the moving window lives in Redis
when ``REDIS_URL`` is set (the ``limits`` library's atomic Lua script) and in
process memory otherwise. Waiting blocks until the oldest request in the
window expires; the budget is never exceeded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time

import redis
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from matches.api_football.errors import BudgetUnavailable

logger = logging.getLogger(__name__)

_storages: dict[str, Storage] = {}
_storages_lock = threading.Lock()


def _storage(redis_url: str | None) -> Storage:
    """One storage per URL and process, so every client in a process shares the in-memory window."""
    key = redis_url or "memory://"
    with _storages_lock:
        if key not in _storages:
            # Wrapped, so a Redis outage surfaces as one StorageError whatever the driver raised.
            _storages[key] = RedisStorage(redis_url, wrap_exceptions=True) if redis_url else MemoryStorage()
        return _storages[key]


class RequestBudget:
    """At most ``limit`` acquisitions per ``window_seconds`` under one name, across processes.

    ``margin_seconds`` widens the limiter's window a little: a slot is granted
    in the caller's process but counted by the provider on arrival, and
    network jitter must not squeeze two bursts into one provider window.
    """

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: int = 60,
        margin_seconds: int = 1,
        name: str = "api-football",
        redis_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window_seconds < 1 or margin_seconds < 0:
            raise ValueError("a budget needs limit >= 1, window_seconds >= 1 and margin_seconds >= 0")
        self.limit = limit
        self.window_seconds = window_seconds
        self.name = name
        self.shared = bool(redis_url)
        self._item = RateLimitItemPerSecond(limit, window_seconds + margin_seconds, namespace="KICKBENCH")
        self._limiter = MovingWindowRateLimiter(_storage(redis_url))
        self._sleep = sleep

    def acquire(self) -> float:
        """Take one slot, waiting as long as needed; return the seconds waited."""
        waited = 0.0
        while not self._hit():
            stats = self._stats()
            # Wake when the oldest request leaves the window; another process may take the slot first.
            pause = min(max(stats.reset_time - time.time(), 0.01), float(self.window_seconds))
            if waited == 0.0:
                logger.info("request budget spent, waiting", extra={"budget": self.name, "wait_s": round(pause, 3)})
            self._sleep(pause)
            waited += pause
        return waited

    def remaining(self) -> int:
        return self._stats().remaining

    def _hit(self) -> bool:
        try:
            return self._limiter.hit(self._item, self.name)
        except StorageError as exc:
            raise self._unavailable(exc) from None

    def _stats(self):
        try:
            return self._limiter.get_window_stats(self._item, self.name)
        except StorageError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: StorageError) -> BudgetUnavailable:
        return BudgetUnavailable(
            f"the shared request budget {self.name!r} in Redis (REDIS_URL) is unreachable, so no request was sent: "
            f"{type(exc.storage_error).__name__}: {exc.storage_error}"
        )


_exhausted_days: dict[str, date] = {}
_exhausted_lock = threading.Lock()
_redis_clients: dict[str, redis.Redis] = {}


def shared_redis_client(redis_url: str) -> redis.Redis:
    """One connection pool per URL and process, as for the budget's storage."""
    with _exhausted_lock:
        if redis_url not in _redis_clients:
            _redis_clients[redis_url] = redis.Redis.from_url(redis_url)
        return _redis_clients[redis_url]


class ExhaustedDay:
    """The UTC day on which an account's daily quota ran out, shared like the budget.

    In Redis when ``REDIS_URL`` is set: every RQ job runs in a fresh work horse, and a mark kept
    in process memory would let each of them send one more refused request. The key expires at
    the next 00:00 UTC, when the provider resets the quota.
    """

    def __init__(self, name: str, redis_url: str | None = None) -> None:
        self.key = f"KICKBENCH:exhausted-day:{name}"
        self._redis = shared_redis_client(redis_url) if redis_url else None

    def mark(self, day: date) -> None:
        with _exhausted_lock:
            _exhausted_days[self.key] = day
        if self._redis is not None:
            reset = datetime.combine(day + timedelta(days=1), day_time(0), tzinfo=UTC)
            try:
                self._redis.set(self.key, day.isoformat(), exat=int(reset.timestamp()))
            except redis.RedisError:
                # The answer that told us is good; other processes find out from the provider.
                logger.warning("could not share the exhausted-day mark in Redis", exc_info=True)

    def is_marked(self, day: date) -> bool:
        with _exhausted_lock:
            if _exhausted_days.get(self.key) == day:
                return True
        if self._redis is None:
            return False
        value = self._call(lambda r: r.get(self.key))
        return value is not None and value.decode() == day.isoformat()

    def _call(self, operation):
        try:
            return operation(self._redis)
        except redis.RedisError as exc:
            raise BudgetUnavailable(
                f"the daily-quota mark {self.key!r} in Redis (REDIS_URL) is unreachable, so no request was sent: "
                f"{type(exc).__name__}: {exc}"
            ) from None
