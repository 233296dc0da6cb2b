"""One bounded HTTP call, shared by every external client (API-Football, the LLM providers).

``requests`` applies its timeout to each socket operation, so a server that
trickles one byte every half second holds a call forever, and it reads a body
of any size into memory. :func:`bounded_call` gives each call:

- a total deadline for connect, headers and body: a watchdog shuts the socket
  down when it passes, which ends any blocked read in any mode (an RQ worker
  or the in-process queue, where no job timeout would stop it);
- a cap on the body actually read (streamed, checked chunk by chunk, after
  content decoding so a gzip bomb counts at its real size);
- JSON decoding with a bounded nesting depth, checked in one linear pass.

Also here: capped exponential backoff, Retry-After (seconds or an HTTP date)
and key redaction, so both clients retry and redact the same way.

Why not a library: urllib3's ``Retry`` retries inside the adapter on status
codes alone, so it cannot see the errors both services report inside an HTTP
200 body, and it sleeps outside any deadline; tenacity would replace a
ten-line loop while the decisions (which typed error is transient) stay ours.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK_BYTES = 64 * 1024
DEFAULT_MAX_JSON_DEPTH = 64


class BoundedCallError(Exception):
    """Base of the failures of one bounded call; each client maps them to its own typed errors."""


class CallTimedOut(BoundedCallError):
    """The whole call (connect, headers, body) did not finish within its deadline."""


class BodyTooLarge(BoundedCallError):
    """The body is larger than the cap; reading stopped at the cap."""


class CallFailed(BoundedCallError):
    """The connection could not be made or broke (refused, reset, bad chunking)."""


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than allowed (it would exhaust the parser's recursion)."""


@dataclass(frozen=True)
class BoundedResponse:
    """What one call read: status, headers and at most ``max_bytes`` of body."""

    status_code: int
    headers: requests.structures.CaseInsensitiveDict
    content: bytes
    elapsed: float  # seconds, monotonic

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


# --- the watchdog -------------------------------------------------------------------------

_current = threading.local()


class _Watchdog:
    """Shuts a call's socket down at its deadline; a blocked recv() then returns at once."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._timers: list[threading.Timer] = []

    def arm(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        remaining = self.deadline - time.monotonic()
        timer = threading.Timer(max(remaining, 0.0), self._kill, args=(sock,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _kill(self, sock: socket.socket) -> None:
        self.fired = True
        with contextlib.suppress(OSError):  # already closed: the call is over
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


class _WatchedMixin:
    """Arms the current call's watchdog when a request's response starts to be read."""

    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        watchdog: _Watchdog | None = getattr(_current, "watchdog", None)
        if watchdog is not None:
            watchdog.arm(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections obey the calling thread's deadline (directly or via an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers bring their own connection classes
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


def bounded_session(session: requests.Session | None = None) -> requests.Session:
    """A session (new or given) whose http/https connections honour :func:`bounded_call` deadlines."""
    session = session or requests.Session()
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- the call ---------------------------------------------------------------------------


def bounded_call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline: float,
    max_bytes: int,
    connect_timeout: float = 10.0,
    **kwargs: Any,
) -> BoundedResponse:
    """One HTTP request that ends within ``deadline`` seconds and reads at most ``max_bytes``.

    Raises CallTimedOut, BodyTooLarge or CallFailed; never a ``requests`` exception.
    """
    started = time.monotonic()
    watchdog = _Watchdog(started + deadline)
    _current.watchdog = watchdog
    try:
        timeout = (min(connect_timeout, deadline), deadline)
        response = session.request(method, url, stream=True, timeout=timeout, **kwargs)
        try:
            content = _read_capped(response, max_bytes, watchdog)
        finally:
            response.close()
    except requests.RequestException as exc:
        if watchdog.fired or isinstance(exc, requests.Timeout) or time.monotonic() >= watchdog.deadline:
            raise CallTimedOut(f"no complete answer within {deadline:g}s") from None
        raise CallFailed(f"connection error: {type(exc).__name__}") from None
    finally:
        watchdog.cancel()
        _current.watchdog = None
    return BoundedResponse(response.status_code, response.headers, content, time.monotonic() - started)


def _read_capped(response: requests.Response, max_bytes: int, watchdog: _Watchdog) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {int(declared)} bytes exceeds the cap of {max_bytes} bytes")
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(f"body exceeds the cap of {max_bytes} bytes")
        if time.monotonic() >= watchdog.deadline:
            raise requests.Timeout("deadline passed while reading the body")
    if watchdog.fired:
        raise requests.Timeout("deadline passed")
    return bytes(body)


# --- JSON with bounded depth ------------------------------------------------------------


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests objects/arrays deeper than ``max_depth``; one linear pass, strings skipped."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads_bounded(data: bytes | str, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses deep nesting up front (JsonTooDeep) instead of a RecursionError."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if json_depth_exceeds(text, max_depth):
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)


# --- retries and redaction --------------------------------------------------------------


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header as seconds: delta-seconds or an HTTP date (RFC 9110); None when unusable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def backoff_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None, floor: float = 0.0,
    jitter: bool = True,
) -> float:
    """Delay before retry number ``attempt`` (0-based): capped exponential, equal jitter, never below
    the server's Retry-After or ``floor``, never above ``cap``."""
    ceiling = min(cap, base * (2**attempt))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2) if jitter else ceiling
    delay = max(delay, floor, retry_after or 0.0)
    return min(delay, cap)


def redact(text: str, *secrets: str, mask: str = "<redacted>") -> str:
    """``text`` with every non-empty secret replaced: servers echo keys back in their errors."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask)
    return text
