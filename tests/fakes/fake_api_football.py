"""A local fake of API-Football v3: a real HTTP server on 127.0.0.1.

It answers like the real service as recorded in shared/reference/api-football.md:
the envelope with string-valued ``parameters`` (``[]`` without parameters),
``errors: []`` on success and an object on failure, ``results`` and ``paging``;
errors inside HTTP 200; the daily and per-minute quota headers on every
response (``/status`` is free); nullable fixture fields. Tests inject faults
per endpoint and read a thread-safe request log to count calls.

Where the reference gives no wording (an unknown parameter, a missing ``to``),
the messages here are inferred and marked so.
Simplifications: ``next`` means the earliest NS/TBD fixtures whatever today
is (datasets are historical); ``live`` ignores its league list; every
request with a valid key to a counting endpoint uses quota, errors included.

Standalone, for a demo or a benchmark::

    python -m tests.fakes.fake_api_football --port 8099 [--dataset fixtures.json]
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.fakes.server import BackgroundServer, huge_body, trickle

DEFAULT_KEY = "fake-api-football-key"

STATUS_LONG = {
    "TBD": "Time To Be Defined",
    "NS": "Not Started",
    "1H": "First Half, Kick Off",
    "HT": "Halftime",
    "2H": "Second Half, 2nd Half Started",
    "ET": "Extra Time",
    "BT": "Break Time",
    "P": "Penalty In Progress",
    "SUSP": "Match Suspended",
    "INT": "Match Interrupted",
    "FT": "Match Finished",
    "AET": "Match Finished",
    "PEN": "Match Finished",
    "PST": "Match Postponed",
    "CANC": "Match Cancelled",
    "ABD": "Match Abandoned",
    "AWD": "Technical Loss",
    "WO": "WalkOver",
    "LIVE": "In Progress",
}
PLAYED = frozenset({"FT", "AET", "PEN", "AWD", "WO"})
UPCOMING = frozenset({"NS", "TBD"})
STARTED = frozenset({"1H", "HT", "2H", "ET", "BT", "P", "SUSP", "INT", "LIVE"}) | PLAYED

TOKEN_MESSAGE = (
    "Error/Missing application key. Go to https://www.api-football.com/documentation-v3 "
    "to learn how to get your API application key."
)
DAILY_MESSAGE = (
    "You have reached the request limit for the day, Go to https://dashboard.api-football.com to upgrade your plan."
)
BUG_REPORT = "This is on our side, please report us this bug on https://dashboard.api-football.com"
SERVER_MESSAGE = "Something went wrong while fetching details. Try again later."


# --- faults -------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted answer. ``body`` is JSON-able, or bytes sent verbatim.

    ``passthrough`` answers normally after ``delay`` (a slow response);
    ``counts`` says whether it uses up quota like a served request.
    """

    status: int = 200
    body: Any = None
    delay: float = 0.0
    passthrough: bool = False
    counts: bool = True
    name: str = "fault"
    hostile: str = ""  # "trickle-headers", "trickle-body", "huge" or "huge-undeclared"
    interval: float = 0.5
    size: int = 0

    @classmethod
    def envelope_error(cls, errors: Any, *, status: int = 200, name: str = "", counts: bool = True) -> Fault:
        """HTTP 200 (usually) with ``errors`` set, ``response: []``; ``parameters`` filled in when served."""
        return cls(status=status, body={"errors": errors}, counts=counts, name=name or "errors")

    @classmethod
    def token(cls) -> Fault:
        return cls.envelope_error({"token": TOKEN_MESSAGE}, name="token", counts=False)

    @classmethod
    def daily_quota(cls) -> Fault:
        return cls.envelope_error({"requests": DAILY_MESSAGE}, name="requests")

    @classmethod
    def rate_limit(cls, *, status: int = 200, per_minute: int = 10, newer_wording: bool = False) -> Fault:
        message = (
            "Too many requests. You have exceeded the limit of requests per minute of your subscription."
            if newer_wording
            else f"Too many requests. Your rate limit is {per_minute} requests per minute."
        )
        return cls.envelope_error({"rateLimit": message}, status=status, name="rateLimit")

    @classmethod
    def plan_season(cls, first: int = 2022, last: int = 2024) -> Fault:
        message = f"Free plans do not have access to this season, try from {first} to {last}."
        return cls.envelope_error({"plan": message}, name="plan")

    @classmethod
    def plan_date(cls, first: str = "2026-11-28", last: str = "2026-11-30") -> Fault:
        message = f"Free plans do not have access to this date, try from {first} to {last}."
        return cls.envelope_error({"plan": message}, name="plan")

    @classmethod
    def plan_parameter(cls, parameter: str = "Last") -> Fault:
        return cls.envelope_error({"plan": f"Free plans do not have access to the {parameter} parameter"}, name="plan")

    @classmethod
    def bad_parameter(cls, field_name: str = "season", message: str = "The Season field is required.") -> Fault:
        return cls.envelope_error({field_name: message}, name=field_name)

    @classmethod
    def subscription_expired(cls) -> Fault:
        return cls.envelope_error({"subscription": "Your subscription has expired"}, name="subscription")

    @classmethod
    def errors_as_list(cls, items: list | None = None) -> Fault:
        return cls.envelope_error(items if items is not None else [DAILY_MESSAGE], name="errors-list")

    @classmethod
    def http_429(cls, *, with_body: bool = True) -> Fault:
        if not with_body:
            return cls(status=429, body=b"", name="429")
        return cls.envelope_error(
            {"rateLimit": "Too many requests. Your rate limit is 10 requests per minute."}, status=429, name="429"
        )

    @classmethod
    def bug_204(cls, report: str = "fixtures") -> Fault:
        body = {"time": datetime.now(UTC).replace(microsecond=0).isoformat(), "bug": BUG_REPORT, "report": report}
        return cls(status=204, body=body, name="204")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status, body={"message": SERVER_MESSAGE}, name=str(status))

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds, passthrough=True, name="slow")

    @classmethod
    def malformed(cls, body: bytes = b'{"get": "fixtures", "parameters": {"league": "39"}, "respo') -> Fault:
        return cls(status=200, body=body, name="malformed")

    @classmethod
    def trickle(cls, interval: float = 0.5, phase: str = "headers") -> Fault:
        """The status line, then one byte every ``interval`` seconds, never finishing."""
        return cls(hostile=f"trickle-{phase}", interval=interval, name="trickle")

    @classmethod
    def huge(cls, size: int = 50 * 1024 * 1024, *, declare_length: bool = False) -> Fault:
        """A 50 MB body (by default), with or without a Content-Length."""
        return cls(hostile="huge" if declare_length else "huge-undeclared", size=size, name="huge")

    @classmethod
    def deep_nesting(cls, depth: int = 100_000) -> Fault:
        """An envelope whose ``response`` nests ``depth`` arrays deep."""
        body = b'{"get": "fixtures", "errors": [], "response": ' + b"[" * depth + b"]" * depth + b"}"
        return cls(status=200, body=body, name="deep")


@dataclass(frozen=True)
class LoggedRequest:
    path: str  # without leading slash, e.g. "fixtures/headtohead"
    params: dict[str, str]
    time: float  # time.time() on arrival
    status: int
    outcome: str  # "ok", an error key ("token", "rateLimit", ...) or a fault name
    key_ok: bool


# --- dataset builders ---------------------------------------------------------


def _iso(moment: datetime, tz: str = "UTC") -> str:
    local = moment.astimezone(ZoneInfo(tz)) if tz != "UTC" else moment.astimezone(UTC)
    return local.isoformat()


def make_fixture(
    fixture_id: int,
    *,
    kickoff: datetime,
    home: tuple[int, str],
    away: tuple[int, str],
    status: str = "NS",
    goals: tuple[int | None, int | None] = (None, None),
    halftime: tuple[int | None, int | None] = (None, None),
    fulltime: tuple[int | None, int | None] | None = None,
    extratime: tuple[int | None, int | None] = (None, None),
    penalty: tuple[int | None, int | None] = (None, None),
    league_id: int = 39,
    league_name: str = "Premier League",
    country: str = "England",
    season: int = 2024,
    round: str = "Regular Season - 1",
    elapsed: int | None = None,
    referee: str | None = None,
    venue: tuple[int | None, str | None, str | None] = (None, None, None),
) -> dict:
    """A fixture object in the provider's shape; ``fulltime`` defaults to ``goals`` for FT, AWD and WO."""
    if status not in STATUS_LONG:
        raise ValueError(f"unknown status code {status}")
    kickoff = kickoff.astimezone(UTC)
    timestamp = int(kickoff.timestamp())
    if fulltime is None:
        fulltime = goals if status in {"FT", "AWD", "WO"} else (None, None)
    home_winner = away_winner = None
    if status in PLAYED and goals[0] is not None and goals[1] is not None:
        decider = penalty if status == "PEN" and penalty[0] is not None else goals
        if decider[0] != decider[1]:
            home_winner, away_winner = decider[0] > decider[1], decider[1] > decider[0]
    if elapsed is None and status in PLAYED - {"AWD", "WO"}:
        elapsed = 120 if status in {"AET", "PEN"} else 90
    return {
        "fixture": {
            "id": fixture_id,
            "referee": referee,
            "timezone": "UTC",
            "date": _iso(kickoff),
            "timestamp": timestamp,
            "periods": {
                "first": timestamp if status in STARTED else None,
                "second": timestamp + 3600 if status in STARTED - {"1H", "HT"} else None,
            },
            "venue": {"id": venue[0], "name": venue[1], "city": venue[2]},
            "status": {"long": STATUS_LONG[status], "short": status, "elapsed": elapsed, "extra": None},
        },
        "league": {
            "id": league_id,
            "name": league_name,
            "country": country,
            "logo": f"https://media.api-sports.io/football/leagues/{league_id}.png",
            "flag": None,
            "season": season,
            "round": round,
            "standings": True,
        },
        "teams": {
            "home": {
                "id": home[0],
                "name": home[1],
                "logo": f"https://media.api-sports.io/football/teams/{home[0]}.png",
                "winner": home_winner,
            },
            "away": {
                "id": away[0],
                "name": away[1],
                "logo": f"https://media.api-sports.io/football/teams/{away[0]}.png",
                "winner": away_winner,
            },
        },
        "goals": {"home": goals[0], "away": goals[1]},
        "score": {
            "halftime": {"home": halftime[0], "away": halftime[1]},
            "fulltime": {"home": fulltime[0], "away": fulltime[1]},
            "extratime": {"home": extratime[0], "away": extratime[1]},
            "penalty": {"home": penalty[0], "away": penalty[1]},
        },
    }


DEMO_TEAMS = ((33, "Manchester United"), (34, "Newcastle"), (40, "Liverpool"), (42, "Arsenal"))


def demo_dataset(*, season: int = 2024, played: int = 8) -> list[dict]:
    """A four-team double round robin from mid-August; the first ``played`` fixtures are finished."""
    pairs = [(h, a) for h in DEMO_TEAMS for a in DEMO_TEAMS if h != a]
    start = datetime(season, 8, 17, 14, 0, tzinfo=UTC)
    fixtures = []
    for n, (home, away) in enumerate(pairs):
        finished = n < played
        fixtures.append(
            make_fixture(
                1_100_000 + n,
                kickoff=start + timedelta(days=7 * (n // 2), hours=2 * (n % 2)),
                home=home,
                away=away,
                status="FT" if finished else "NS",
                goals=((n * 7) % 4, (n * 3) % 3) if finished else (None, None),
                halftime=((n * 7) % 4 // 2, (n * 3) % 3 // 2) if finished else (None, None),
                season=season,
                round=f"Regular Season - {n // 2 + 1}",
            )
        )
    return fixtures


# --- the server -----------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIXTURE_PARAMS = frozenset(
    {"id", "ids", "live", "date", "league", "season", "team", "last", "next", "from", "to", "round", "status"}
    | {"venue", "timezone"}
)
_H2H_PARAMS = frozenset(
    {"h2h", "date", "league", "season", "last", "next", "from", "to", "status", "venue", "timezone"}
)


class FakeApiFootball(BackgroundServer):
    """The fake server; ``with FakeApiFootball(fixtures=...) as fake: fake.base_url``."""

    def __init__(
        self,
        *,
        fixtures: Iterable[dict] = (),
        api_key: str = DEFAULT_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        daily_limit: int = 7500,
        daily_used: int = 0,
        minute_limit: int = 300,
        window_seconds: float = 60.0,
        enforce_minute_limit: bool = False,
        rate_limit_status: int = 200,
        lowercase_headers: bool = False,
        allowed_seasons: tuple[int, int] | None = None,
        plan: str = "Pro",
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.daily_limit = daily_limit
        self.daily_used = daily_used
        self.minute_limit = minute_limit
        self.window_seconds = window_seconds
        self.enforce_minute_limit = enforce_minute_limit
        self.rate_limit_status = rate_limit_status
        self.lowercase_headers = lowercase_headers
        self.allowed_seasons = allowed_seasons
        self.plan = plan
        self._lock = threading.Lock()
        self._fixtures: dict[int, dict] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._log: list[LoggedRequest] = []
        self._minute: deque[float] = deque()
        self._stopping = threading.Event()
        self._down_until = 0.0
        self.set_fixtures(fixtures)

    # --- lifecycle --------------------------------------------------------------

    thread_name = "fake-api-football"

    def handler_class(self) -> type[_Handler]:
        return type("Handler", (_Handler,), {"owner": self})

    def start(self) -> FakeApiFootball:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # ends trickling and huge answers
        super().stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def go_down(self, seconds: float) -> None:
        """An outage: for ``seconds`` from now every request gets a bare HTTP 503, as from a load balancer."""
        self._down_until = time.time() + seconds

    # --- dataset ------------------------------------------------------------------

    def set_fixtures(self, fixtures: Iterable[dict]) -> None:
        with self._lock:
            self._fixtures = {f["fixture"]["id"]: json.loads(json.dumps(f)) for f in fixtures}

    def upsert_fixture(self, fixture: dict) -> None:
        """Add or replace one fixture, e.g. to correct a score after the fact."""
        with self._lock:
            self._fixtures[fixture["fixture"]["id"]] = json.loads(json.dumps(fixture))

    def fixture(self, fixture_id: int) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._fixtures[fixture_id]))

    # --- faults and log -------------------------------------------------------------

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for an endpoint ("fixtures", "fixtures/headtohead", "status", or "*" for any)."""
        with self._lock:
            self._faults[endpoint.strip("/")].extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def request_count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self._log if path is None or r.path == path.strip("/"))

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def daily_remaining(self) -> int:
        with self._lock:
            return max(0, self.daily_limit - self.daily_used)

    # --- answering ----------------------------------------------------------------------

    def _quota_headers(self, now: float) -> dict[str, str]:
        while self._minute and self._minute[0] <= now - self.window_seconds:
            self._minute.popleft()
        minute_name, minute_remaining = (
            ("x-ratelimit-limit", "x-ratelimit-remaining")
            if self.lowercase_headers
            else ("X-RateLimit-Limit", "X-RateLimit-Remaining")
        )
        return {
            "x-ratelimit-requests-limit": str(self.daily_limit),
            "x-ratelimit-requests-remaining": str(max(0, self.daily_limit - self.daily_used)),
            minute_name: str(self.minute_limit),
            minute_remaining: str(max(0, self.minute_limit - len(self._minute))),
        }

    def _count(self, now: float) -> None:
        self.daily_used += 1
        self._minute.append(now)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        now = time.time()
        split = urlsplit(handler.path)
        path = split.path.strip("/")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        key = handler.headers.get("x-apisports-key") or handler.headers.get("x-rapidapi-key")
        key_ok = key == self.api_key
        counting = path != "status"
        if now < self._down_until:
            with self._lock:
                self._log.append(LoggedRequest(path, params, now, 503, "down", key_ok))
            self._write(handler, 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", {}, False)
            return
        with self._lock:
            queue = self._faults.get(path) or self._faults.get("*")
            fault = queue.popleft() if queue else None
        if fault is not None and fault.hostile:
            with self._lock:
                self._log.append(LoggedRequest(path, params, now, 200, fault.name, key_ok))
            if fault.hostile.startswith("trickle-"):
                trickle(handler, interval=fault.interval, phase=fault.hostile.removeprefix("trickle-"),
                        stopping=self._stopping)
            else:
                huge_body(handler, size=fault.size, declare_length=fault.hostile == "huge", stopping=self._stopping)
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
            if fault.passthrough:
                fault = None

        with self._lock:
            status, body, outcome, close = self._answer(path, params, key_ok, counting, fault, now)
            headers = self._quota_headers(time.time())
            self._log.append(LoggedRequest(path, params, now, status, outcome, key_ok))
        self._write(handler, status, body, headers, close)

    def _answer(
        self, path: str, params: dict[str, str], key_ok: bool, counting: bool, fault: Fault | None, now: float
    ) -> tuple[int, bytes, str, bool]:
        """Status, body, outcome and whether to close the connection; called under the lock."""
        if not key_ok:
            return 200, self._error_body(path, params, {"token": TOKEN_MESSAGE}), "token", False
        if counting and self.daily_used >= self.daily_limit:
            return 200, self._error_body(path, params, {"requests": DAILY_MESSAGE}), "requests", False
        if counting and self.enforce_minute_limit:
            self._quota_headers(now)  # prunes the window
            if len(self._minute) >= self.minute_limit:
                message = f"Too many requests. Your rate limit is {self.minute_limit} requests per minute."
                return (
                    self.rate_limit_status,
                    self._error_body(path, params, {"rateLimit": message}),
                    "rateLimit",
                    False,
                )
        if fault is not None:
            if fault.counts and counting:
                self._count(now)
            if isinstance(fault.body, bytes):
                return fault.status, fault.body, fault.name, fault.status == 204
            if isinstance(fault.body, dict) and "errors" in fault.body and set(fault.body) == {"errors"}:
                return fault.status, self._error_body(path, params, fault.body["errors"]), fault.name, False
            # A 204 may carry a body (the provider's bug report); no client reads it, so close the connection.
            return fault.status, json.dumps(fault.body).encode(), fault.name, fault.status == 204
        try:
            response, results, paging = self._route(path, params)
        except _BadRequest as exc:
            if counting:
                self._count(now)
            return 200, self._error_body(path, params, exc.errors), next(iter(exc.errors)), False
        except LookupError:
            body = json.dumps({"message": f"Endpoint '/{path}' does not exist"}).encode()  # inferred
            return 404, body, "not-found", False
        if counting:
            self._count(now)
        envelope: dict[str, Any] = {
            "get": path,
            "parameters": params or [],
            "errors": [],
            "results": results,
        }
        if paging:
            envelope["paging"] = {"current": 1, "total": 1}
        envelope["response"] = response
        return 200, json.dumps(envelope).encode(), "ok", False

    @staticmethod
    def _error_body(path: str, params: dict[str, str], errors: Any) -> bytes:
        return json.dumps(
            {
                "get": path,
                "parameters": params or [],
                "errors": errors,
                "results": 0,
                "paging": {"current": 1, "total": 1},
                "response": [],
            }
        ).encode()

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str], close: bool) -> None:
        try:
            handler.send_response(status, "Client Closed Request" if status == 499 else None)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                handler.send_header(name, value)
            if close:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up (its timeout); nothing to answer

    # --- endpoints ----------------------------------------------------------------------

    def _route(self, path: str, params: dict[str, str]) -> tuple[Any, int, bool]:
        if path == "fixtures":
            items = self._fixtures_endpoint(params)
            return items, len(items), True
        if path == "fixtures/headtohead":
            items = self._h2h_endpoint(params)
            return items, len(items), True
        if path == "status":
            return self._status_endpoint(), 1, False
        if path == "teams":
            items = self._teams_endpoint(params)
            return items, len(items), True
        if path == "standings":
            items = self._standings_endpoint(params)
            return items, len(items), True
        raise LookupError(path)

    @staticmethod
    def _check_params(params: dict[str, str], allowed: frozenset[str]) -> None:
        if not params:
            raise _BadRequest({"required": "At least one parameter is required."})  # inferred wording
        for name in params:
            if name not in allowed:
                raise _BadRequest({name: f"The {name.capitalize()} field do not exist."})  # inferred wording
        for name in ("date", "from", "to"):
            if name in params and not _DATE.match(params[name]):
                raise _BadRequest(
                    {name: f"The {name.capitalize()} field must contain a valid date. Example: 2019-10-20"}
                )
        if "season" in params and not re.fullmatch(r"\d{4}", params["season"]):
            raise _BadRequest({"season": "The Season field must contain 4 characters."})
        for name in ("last", "next"):
            if name in params and not re.fullmatch(r"\d{1,2}", params[name]):
                raise _BadRequest({name: f"The {name.capitalize()} field must contain an integer of 2 digits maximum."})
        if ("from" in params) != ("to" in params):
            missing = "to" if "from" in params else "from"
            raise _BadRequest({missing: f"The {missing.capitalize()} field is required."})  # inferred wording

    def _check_plan(self, params: dict[str, str]) -> None:
        if self.allowed_seasons and "season" in params:
            first, last = self.allowed_seasons
            if not first <= int(params["season"]) <= last:
                raise _BadRequest(
                    {"plan": f"Free plans do not have access to this season, try from {first} to {last}."}
                )

    def _filter(self, items: Iterable[dict], params: dict[str, str]) -> list[dict]:
        def day(item: dict) -> date:
            return datetime.fromtimestamp(item["fixture"]["timestamp"], UTC).date()

        result = []
        statuses = set(params["status"].split("-")) if "status" in params else None
        for item in items:
            fixture, league, teams = item["fixture"], item["league"], item["teams"]
            if "id" in params and str(fixture["id"]) != params["id"]:
                continue
            if "ids" in params and str(fixture["id"]) not in params["ids"].split("-"):
                continue
            if "league" in params and str(league["id"]) != params["league"]:
                continue
            if "season" in params and str(league["season"]) != params["season"]:
                continue
            if "team" in params and params["team"] not in (str(teams["home"]["id"]), str(teams["away"]["id"])):
                continue
            if "round" in params and league["round"] != params["round"]:
                continue
            if "date" in params and day(item).isoformat() != params["date"]:
                continue
            if "from" in params and day(item).isoformat() < params["from"]:
                continue
            if "to" in params and day(item).isoformat() > params["to"]:
                continue
            if statuses is not None and fixture["status"]["short"] not in statuses:
                continue
            if "live" in params and fixture["status"]["short"] not in STARTED - PLAYED:
                continue
            result.append(item)
        result.sort(key=lambda item: item["fixture"]["timestamp"])
        if "last" in params:
            played = [item for item in result if item["fixture"]["status"]["short"] in PLAYED]
            result = list(reversed(played))[: int(params["last"])]
        if "next" in params:
            result = [item for item in result if item["fixture"]["status"]["short"] in UPCOMING][: int(params["next"])]
        tz = params.get("timezone")
        if tz and tz != "UTC":
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise _BadRequest({"timezone": "The Timezone field do not exist."}) from None  # inferred
            result = [json.loads(json.dumps(item)) for item in result]
            for item in result:
                moment = datetime.fromtimestamp(item["fixture"]["timestamp"], UTC)
                item["fixture"]["timezone"], item["fixture"]["date"] = tz, _iso(moment, tz)
        return result

    def _fixtures_endpoint(self, params: dict[str, str]) -> list[dict]:
        self._check_params(params, _FIXTURE_PARAMS)
        needs_season = "from" in params or (
            ("team" in params or "league" in params) and not ({"last", "next", "date", "id", "ids"} & set(params))
        )
        if needs_season and "season" not in params:
            raise _BadRequest({"season": "The Season field is required."})
        self._check_plan(params)
        return self._filter(self._fixtures.values(), params)

    def _h2h_endpoint(self, params: dict[str, str]) -> list[dict]:
        self._check_params(params, _H2H_PARAMS)
        match = re.fullmatch(r"(\d+)-(\d+)", params.get("h2h", ""))
        if not match:
            raise _BadRequest({"h2h": "The H2h field is required."})
        pair = {int(match.group(1)), int(match.group(2))}
        self._check_plan(params)
        meetings = [
            item
            for item in self._fixtures.values()
            if {item["teams"]["home"]["id"], item["teams"]["away"]["id"]} == pair
        ]
        return self._filter(meetings, params)

    def _status_endpoint(self) -> dict:
        return {
            "account": {"firstname": "Fake", "lastname": "Account", "email": "fake@example.invalid"},
            "subscription": {"plan": self.plan, "end": "2099-12-31T00:00:00+00:00", "active": True},
            "requests": {"current": self.daily_used, "limit_day": self.daily_limit},
        }

    def _teams_in(self, params: dict[str, str]) -> Iterator[tuple[dict, dict]]:
        """(team, league) pairs of every fixture side that matches league/season."""
        for item in self._fixtures.values():
            league = item["league"]
            if "league" in params and str(league["id"]) != params["league"]:
                continue
            if "season" in params and str(league["season"]) != params["season"]:
                continue
            for side in ("home", "away"):
                yield item["teams"][side], league

    def _teams_endpoint(self, params: dict[str, str]) -> list[dict]:
        self._check_params(params, frozenset({"id", "name", "league", "season", "country", "search", "code", "venue"}))
        if "league" in params and "season" not in params:
            raise _BadRequest({"season": "The Season field is required."})
        if "search" in params and len(params["search"]) < 3:
            raise _BadRequest({"search": "The Search field must be at least 3 characters."})
        self._check_plan(params)
        seen: dict[int, dict] = {}
        for team, league in self._teams_in(params):
            if "id" in params and str(team["id"]) != params["id"]:
                continue
            if "name" in params and team["name"] != params["name"]:
                continue
            if "search" in params and params["search"].lower() not in team["name"].lower():
                continue
            if "country" in params and league["country"] != params["country"]:
                continue
            seen.setdefault(
                team["id"],
                {
                    "team": {
                        "id": team["id"],
                        "name": team["name"],
                        "code": None,
                        "country": league["country"],
                        "founded": None,
                        "national": False,
                        "logo": team["logo"],
                    },
                    "venue": {
                        "id": None,
                        "name": None,
                        "address": None,
                        "city": None,
                        "capacity": None,
                        "surface": None,
                        "image": None,
                    },
                },
            )
        return sorted(seen.values(), key=lambda row: row["team"]["id"])

    def _standings_endpoint(self, params: dict[str, str]) -> list[dict]:
        """The current table only (no as-of), rebuilt from every played fixture of the league season."""
        self._check_params(params, frozenset({"league", "season", "team"}))
        if "season" not in params:
            raise _BadRequest({"season": "The Season field is required."})
        self._check_plan(params)
        played = [
            item
            for item in self._fixtures.values()
            if str(item["league"]["season"]) == params["season"]
            and ("league" not in params or str(item["league"]["id"]) == params["league"])
            and item["fixture"]["status"]["short"] in PLAYED
            and item["goals"]["home"] is not None
        ]
        if not played:
            return []
        played.sort(key=lambda item: item["fixture"]["timestamp"])
        league = played[0]["league"]

        def blank() -> dict:
            return {"played": 0, "win": 0, "draw": 0, "lose": 0, "goals": {"for": 0, "against": 0}}

        rows: dict[int, dict] = {}
        for item in played:
            goals = item["goals"]
            for side, scored, conceded in (
                ("home", goals["home"], goals["away"]),
                ("away", goals["away"], goals["home"]),
            ):
                team = item["teams"][side]
                row = rows.setdefault(
                    team["id"],
                    {"team": team, "all": blank(), "home": blank(), "away": blank(), "results": []},
                )
                result = "W" if scored > conceded else "D" if scored == conceded else "L"
                row["results"].append(result)
                for bucket in (row["all"], row[side]):
                    bucket["played"] += 1
                    bucket[{"W": "win", "D": "draw", "L": "lose"}[result]] += 1
                    bucket["goals"]["for"] += scored
                    bucket["goals"]["against"] += conceded
        table = []
        for row in rows.values():
            record = row["all"]
            points = 3 * record["win"] + record["draw"]
            diff = record["goals"]["for"] - record["goals"]["against"]
            table.append((points, diff, record["goals"]["for"], row))
        table.sort(key=lambda entry: (-entry[0], -entry[1], -entry[2], entry[3]["team"]["name"]))
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        standings = []
        for rank, (points, diff, _, row) in enumerate(table, start=1):
            if "team" in params and str(row["team"]["id"]) != params["team"]:
                continue
            standings.append(
                {
                    "rank": rank,
                    "team": {key: row["team"][key] for key in ("id", "name", "logo")},
                    "points": points,
                    "goalsDiff": diff,
                    "group": league["name"],
                    "form": "".join(reversed(row["results"][-5:])),
                    "status": "same",
                    "description": None,
                    "all": row["all"],
                    "home": row["home"],
                    "away": row["away"],
                    "update": now,
                }
            )
        info = {key: league[key] for key in ("id", "name", "country", "logo", "flag", "season")}
        return [{"league": {**info, "standings": [standings]}}]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeApiFootball
    protocol_version = "HTTP/1.1"  # keep-alive, like the real edge

    def version_string(self) -> str:
        return "nginx"

    def do_GET(self) -> None:
        self.owner.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the request log instead."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake API-Football v3 on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--key", default=DEFAULT_KEY, help="the API key the fake accepts")
    parser.add_argument("--dataset", help="JSON file: a list of fixture objects, or {'fixtures': [...]}")
    parser.add_argument("--season", type=int, default=2024, help="season of the built-in demo dataset")
    parser.add_argument("--daily-limit", type=int, default=7500)
    parser.add_argument("--minute-limit", type=int, default=300)
    parser.add_argument("--enforce-minute-limit", action="store_true")
    args = parser.parse_args(argv)
    if args.dataset:
        with open(args.dataset, encoding="utf-8") as handle:
            data = json.load(handle)
        fixtures = data["fixtures"] if isinstance(data, dict) else data
    else:
        fixtures = demo_dataset(season=args.season)
    fake = FakeApiFootball(
        fixtures=fixtures,
        api_key=args.key,
        host=args.host,
        port=args.port,
        daily_limit=args.daily_limit,
        minute_limit=args.minute_limit,
        enforce_minute_limit=args.enforce_minute_limit,
    )
    fake.serve_until_interrupted(f"fake API-Football on {{base_url}} with {len(fixtures)} fixtures; Ctrl-C stops it")


if __name__ == "__main__":
    main()
