"""HTTP client of API-Football v3: one place that knows how the service fails.

Every call goes through :meth:`ApiFootballClient.get`, which waits for a slot
of the shared per-minute budget, sends one GET bounded by a total deadline and
a body cap (``matches.bounded_http``, shared with the LLM provider), reads the
quota headers, and turns each of the provider's error forms into a typed
exception (see ``errors.py``). Only transient failures are retried, here and
nowhere else, with capped exponential backoff and jitter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from matches.api_football import outage
from matches.api_football.budget import ExhaustedDay, RequestBudget
from matches.api_football.errors import (
    ApiConnectionError,
    ApiFootballError,
    ApiTimeout,
    AuthError,
    BadRequest,
    DailyQuotaExhausted,
    MalformedResponse,
    MissingApiKey,
    PlanError,
    ProviderBug,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    SourceDown,
)
from matches.bounded_http import (
    BodyTooLarge,
    BoundedResponse,
    CallFailed,
    CallTimedOut,
    JsonTooDeep,
    backoff_delay,
    bounded_call,
    bounded_session,
    loads_bounded,
    redact,
    retry_after_seconds,
)

logger = logging.getLogger(__name__)

KEY_HEADER = "x-apisports-key"
# Endpoints that do not count against the daily quota.
FREE_ENDPOINTS = frozenset({"status"})
# A real fixture object nests 4 levels deep; the envelope adds 2.
MAX_JSON_DEPTH = 32
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

@dataclass(frozen=True)
class QuotaState:
    """The quota headers of the last response (None when a header was absent)."""

    daily_limit: int | None = None
    daily_remaining: int | None = None
    minute_limit: int | None = None
    minute_remaining: int | None = None
    observed_at: float = 0.0  # time.monotonic()


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    # requests' CaseInsensitiveDict: "X-RateLimit-Remaining" and "x-ratelimit-remaining" are one header.
    value = headers.get(name)
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query values as the API expects them; ``from_`` stands for the keyword ``from``."""
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        key = name.rstrip("_")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, datetime):
            text = value.date().isoformat()
        elif isinstance(value, date):
            text = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            text = "-".join(str(v) for v in value)
        else:
            text = str(value)
        query[key] = text
    return query


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


# Priority when several categories appear at once: the least recoverable wins.
_CATEGORY_ORDER = ("token", "subscription", "requests", "plan", "bug", "rateLimit")
_CATEGORY_CLASS: dict[str, type[ApiFootballError]] = {
    "token": AuthError,
    "subscription": AuthError,
    "requests": DailyQuotaExhausted,
    "plan": PlanError,
    "bug": ProviderBug,
    "rateLimit": RateLimited,
}


def _guess_category(message: str) -> str:
    """Categories of the rare list-shaped ``errors``, which carry messages but no keys."""
    text = message.lower()
    if "application key" in text or "token" in text:
        return "token"
    if "request limit for the day" in text or "daily" in text:
        return "requests"
    # Before "subscription": the newer per-minute wording ends "... per minute of your subscription."
    if "too many requests" in text or "rate limit" in text or "per minute" in text:
        return "rateLimit"
    if "subscription" in text:
        return "subscription"
    if "plan" in text:
        return "plan"
    return ""


def classify_errors(errors: Any) -> tuple[type[ApiFootballError], str]:
    """The exception class and message for a non-empty ``errors`` value of any shape."""
    items: list[tuple[str, str]] = []
    entries = errors if isinstance(errors, list) else [errors]
    for entry in entries:
        if isinstance(entry, dict):
            if "bug" in entry or "report" in entry:
                items.append(("bug", _text(entry.get("bug") or entry)))
            else:
                items.extend((str(k), _text(v)) for k, v in entry.items())
        else:
            message = _text(entry)
            items.append((_guess_category(message), message))
    for category in _CATEGORY_ORDER:
        messages = [message for key, message in items if key == category]
        if messages:
            return _CATEGORY_CLASS[category], "; ".join(messages)
    return BadRequest, "; ".join(f"{key}: {message}" if key else message for key, message in items)


def _source_failure(exc: ApiFootballError) -> bool:
    """5xx, timeouts and broken connections say the source is down; 429 and 4xx do not."""
    return isinstance(exc, ServerError | ApiTimeout | ApiConnectionError) and not isinstance(exc, SourceDown)


class ApiFootballClient:
    """API-Football over one ``requests.Session``; the key travels only in the ``x-apisports-key`` header."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 15.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        requests_per_minute: int = 300,
        window_seconds: int = 60,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        rate_limit_pause: float = 60.0,
        down_after_failures: int = 3,
        down_seconds: float = 0.0,
        redis_url: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise MissingApiKey(
                "API_FOOTBALL_KEY is not set: put the key of your API-Football account in the environment"
            )
        self.base_url = base_url.rstrip("/")
        self.__api_key = api_key
        self.timeout = timeout  # the deadline of one whole call: connect, headers and body
        self.max_bytes = max_bytes
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rate_limit_pause = rate_limit_pause
        self.window_seconds = window_seconds
        self.session = bounded_session(session)
        self._sleep = sleep
        # Identifies the account without revealing the key (budget and quota state are per account).
        fingerprint = hashlib.sha256(api_key.encode()).hexdigest()[:12]
        self._account = f"{urlsplit(self.base_url).netloc}:{fingerprint}"
        self.budget = RequestBudget(
            limit=requests_per_minute,
            window_seconds=window_seconds,
            name=f"api-football:{self._account}",
            redis_url=redis_url or None,
            sleep=sleep,
        )
        self.quota = QuotaState()
        # No request is sent once the day's quota is gone, until 00:00 UTC.
        self.exhausted_day = ExhaustedDay(f"api-football:{self._account}", redis_url=redis_url or None)
        # Consecutive 5xx/timeouts mark the source down for a while (0 s: never), see ``outage``.
        self.health = outage.SourceHealth(f"api-football:{self._account}", threshold=down_after_failures,
                                          down_seconds=down_seconds, redis_url=redis_url or None)

    @classmethod
    def from_settings(cls, **overrides: Any) -> ApiFootballClient:
        """A client configured by ``config/settings.py``; keyword arguments override single settings."""
        kwargs: dict[str, Any] = {
            "base_url": settings.API_FOOTBALL_BASE_URL,
            "api_key": settings.API_FOOTBALL_KEY,
            "timeout": settings.API_FOOTBALL_TIMEOUT,
            "max_bytes": getattr(settings, "API_FOOTBALL_MAX_BYTES", DEFAULT_MAX_BYTES),
            "requests_per_minute": settings.API_FOOTBALL_REQUESTS_PER_MINUTE,
            "window_seconds": getattr(settings, "API_FOOTBALL_RATE_WINDOW_SECONDS", 60),
            "max_retries": settings.API_FOOTBALL_MAX_RETRIES,
            "backoff_base": getattr(settings, "API_FOOTBALL_BACKOFF_BASE", 1.0),
            "backoff_cap": getattr(settings, "API_FOOTBALL_BACKOFF_CAP", 60.0),
            "rate_limit_pause": getattr(settings, "API_FOOTBALL_RATE_LIMIT_PAUSE", 60.0),
            "down_after_failures": getattr(settings, "API_FOOTBALL_DOWN_AFTER_FAILURES", 3),
            "down_seconds": getattr(settings, "API_FOOTBALL_DOWN_SECONDS", 0.0),
            "redis_url": settings.REDIS_URL or None,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        scope = "shared" if self.budget.shared else "in-process"
        return (
            f"ApiFootballClient(base_url={self.base_url!r}, key=<redacted>, "
            f"budget={self.budget.limit}/{self.budget.window_seconds}s {scope})"
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ApiFootballClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- convenience ---------------------------------------------------------

    def fixtures(self, **params: Any) -> list[dict]:
        """``/fixtures``; ``from_``/``to`` accept dates."""
        return self._list(self.get("fixtures", **params), "fixtures")

    def head_to_head(self, team_a_ext_id: int, team_b_ext_id: int, **params: Any) -> list[dict]:
        """``/fixtures/headtohead`` sorted by kickoff (the provider's order is undocumented)."""
        items = self._list(self.get("fixtures/headtohead", h2h=f"{team_a_ext_id}-{team_b_ext_id}", **params), "h2h")
        return sorted(items, key=lambda item: (item.get("fixture") or {}).get("timestamp") or 0)

    def status(self) -> dict:
        """``/status``: account and quota; free of charge."""
        response = self.get("status")["response"]
        if not isinstance(response, dict):
            raise MalformedResponse("/status answered without an account object", endpoint="status")
        return response

    @staticmethod
    def _list(envelope: dict, endpoint: str) -> list[dict]:
        response = envelope["response"]
        if not isinstance(response, list):
            raise MalformedResponse(
                f"/{endpoint} answered {type(response).__name__}, expected a list", endpoint=endpoint
            )
        return response

    # --- the one request path ------------------------------------------------

    def get(self, endpoint: str, **params: Any) -> dict:
        """One GET of ``endpoint``; returns the envelope; retries transient failures only."""
        path = endpoint.strip("/")
        query = _query(params)
        attempt = 0
        rate_limit_paused = False
        while True:
            try:
                envelope = self._send_once(path, query)
            except ApiFootballError as exc:
                down = self.health.failed() if _source_failure(exc) else 0.0
                if down and outage.failing_fast():
                    raise self._down(path, down, "not retried") from exc
                if not exc.retryable or attempt >= self.max_retries:
                    raise
                if isinstance(exc, RateLimited):
                    # One pause of the provider's minute; a second refusal goes to the caller (a job's own
                    # retry), so waits never add up past the job's timeout while holding a worker.
                    if rate_limit_paused:
                        raise
                    rate_limit_paused = True
                delay = self._backoff(attempt, exc)
                logger.warning(
                    "API-Football %s failed (%s), retrying in %.2fs",
                    path,
                    type(exc).__name__,
                    delay,
                    extra={"endpoint": path, "attempt": attempt + 1, "error": exc.message},
                )
                self._sleep(delay)
                attempt += 1
            else:
                self.health.succeeded()
                return envelope

    def _down(self, path: str, seconds: float, what: str) -> SourceDown:
        return SourceDown(f"API-Football is marked down after consecutive 5xx or timeouts; GET /{path} {what}; "
                          f"the mark clears in {seconds:.1f}s or at the next answer", endpoint=path,
                          retry_after=seconds)

    def _backoff(self, attempt: int, exc: ApiFootballError) -> float:
        """Capped exponential backoff with equal jitter; per-minute limits wait at least ``rate_limit_pause``."""
        rate_limited = isinstance(exc, RateLimited)
        return backoff_delay(
            attempt,
            base=self.backoff_base,
            cap=self.backoff_cap,
            retry_after=exc.retry_after if rate_limited else None,
            floor=self.rate_limit_pause if rate_limited else 0.0,
        )

    def _send_once(self, path: str, query: dict[str, str]) -> dict:
        if outage.failing_fast() and (down := self.health.down_for()):
            raise self._down(path, down, "not sent")
        counts = path not in FREE_ENDPOINTS
        if counts:
            self._refuse_if_day_exhausted(path)
        self._pace()
        self.budget.acquire()
        started = time.monotonic()
        try:
            response = bounded_call(
                self.session, "GET", f"{self.base_url}/{path}", params=query, headers={KEY_HEADER: self.__api_key},
                deadline=self.timeout, max_bytes=self.max_bytes, connect_timeout=min(self.timeout, 10.0),
            )
        except CallTimedOut:
            raise ApiTimeout(f"GET /{path} got no complete answer within {self.timeout}s", endpoint=path) from None
        except BodyTooLarge as exc:
            raise ResponseTooLarge(f"GET /{path}: {exc} (API_FOOTBALL_MAX_BYTES)", endpoint=path) from None
        except CallFailed as exc:
            raise ApiConnectionError(self._redact(f"GET /{path} failed: {exc}"), endpoint=path) from None
        logger.debug(
            "API-Football GET /%s %s",
            path,
            response.status_code,
            extra={"endpoint": path, "params": query, "ms": round((time.monotonic() - started) * 1000)},
        )
        self._read_quota(response.headers, counts)
        return self._parse(path, response)

    # --- quota -----------------------------------------------------------------

    def _read_quota(self, headers: Mapping[str, str], counts: bool) -> None:
        self.quota = QuotaState(
            daily_limit=_header_int(headers, "x-ratelimit-requests-limit"),
            daily_remaining=_header_int(headers, "x-ratelimit-requests-remaining"),
            minute_limit=_header_int(headers, "X-RateLimit-Limit"),
            minute_remaining=_header_int(headers, "X-RateLimit-Remaining"),
            observed_at=time.monotonic(),
        )
        if counts and self.quota.daily_remaining is not None and self.quota.daily_remaining <= 0:
            self._mark_day_exhausted()

    def _mark_day_exhausted(self) -> None:
        self.exhausted_day.mark(datetime.now(UTC).date())
        logger.error("API-Football daily quota exhausted; no more requests until 00:00 UTC")

    def _refuse_if_day_exhausted(self, path: str) -> None:
        day = datetime.now(UTC).date()
        if self.exhausted_day.is_marked(day):
            raise DailyQuotaExhausted(
                f"API-Football daily quota is exhausted for {day.isoformat()} (UTC); "
                f"GET /{path} was not sent. It resets at 00:00 UTC; a bigger plan raises it.",
                endpoint=path,
            )

    def _pace(self) -> None:
        """Spread the last requests of a minute out once the provider reports few left."""
        quota = self.quota
        if not quota.minute_limit or quota.minute_remaining is None:
            return
        low = max(1, quota.minute_limit // 10)
        if quota.minute_remaining >= low:
            return
        spacing = self.window_seconds / quota.minute_limit
        delay = min(spacing * (low - quota.minute_remaining), float(self.window_seconds))
        delay -= time.monotonic() - quota.observed_at
        if delay > 0:
            logger.info(
                "API-Football per-minute remainder low (%s of %s), slowing down %.2fs",
                quota.minute_remaining,
                quota.minute_limit,
                delay,
            )
            self._sleep(delay)

    # --- parsing ---------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, self.__api_key)

    def _error(
        self, cls: type[ApiFootballError], message: str, path: str, status: int, **kwargs: Any
    ) -> ApiFootballError:
        return cls(self._redact(message), endpoint=path, status_code=status, **kwargs)

    def _parse(self, path: str, response: BoundedResponse) -> dict:
        status = response.status_code
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        try:
            body: Any = loads_bounded(response.content, max_depth=MAX_JSON_DEPTH) if response.content else None
        except JsonTooDeep as exc:
            raise self._error(MalformedResponse, f"GET /{path}: {exc}", path, status) from None
        except ValueError:
            body = ...  # not JSON
        errors = body.get("errors") if isinstance(body, dict) else None
        transient_status = status == 429 or status == 499 or status >= 500

        if errors:
            cls, message = classify_errors(errors)
            if not (cls is BadRequest and transient_status):
                if cls is DailyQuotaExhausted:
                    self._mark_day_exhausted()
                    message = (
                        f"API-Football daily quota exhausted; no more requests until 00:00 UTC (provider: {message})"
                    )
                raise self._error(
                    cls,
                    message,
                    path,
                    status,
                    errors=json.loads(self._redact(json.dumps(errors))),
                    retry_after=retry_after,
                )

        detail = body.get("message") if isinstance(body, dict) else None
        if status == 204:
            report = _text(body) if isinstance(body, dict) else "no body"
            raise self._error(ProviderBug, f"GET /{path}: HTTP 204, provider bug ({report})", path, status)
        if status == 429:
            raise self._error(
                RateLimited,
                f"GET /{path}: HTTP 429 ({detail or 'rate limited'})",
                path,
                status,
                retry_after=retry_after,
            )
        if transient_status:
            raise self._error(ServerError, f"GET /{path}: HTTP {status} ({detail or 'server error'})", path, status)
        if status in (401, 403):
            raise self._error(AuthError, f"GET /{path}: HTTP {status} ({detail or 'not authorised'})", path, status)
        if 400 <= status < 500:
            raise self._error(BadRequest, f"GET /{path}: HTTP {status} ({detail or 'bad request'})", path, status)
        if status != 200:
            raise self._error(MalformedResponse, f"GET /{path}: unexpected HTTP {status}", path, status)
        if body is ... or body is None:
            raise self._error(MalformedResponse, f"GET /{path}: the body is not JSON", path, status)
        if not isinstance(body, dict) or "response" not in body:
            raise self._error(MalformedResponse, f"GET /{path}: the body is not the API envelope", path, status)
        return body
