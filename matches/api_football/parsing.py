"""Turning API-Football fixture objects into plain values our models understand.

Status mapping (all 19 short codes; we key on ``status.short``, never ``long``):

- TBD, NS -> scheduled.
- 1H, HT, 2H, ET, BT, P, LIVE -> live.
- SUSP, INT -> live: the match has started and has no final result; INT resumes
  within minutes, SUSP may be finished another day (the provider then moves it
  on to FT, or to PST/CANC).
- FT, AET, PEN -> finished.
- AWD, WO -> finished with the awarded score (``goals``, else ``score.fulltime``):
  the competition's official result is what predictions are scored against. An
  awarded fixture without any score is mapped to cancelled, since there is
  nothing to score against.
- PST -> postponed (it returns to NS once a new date is known).
- CANC -> cancelled.
- ABD -> cancelled: an abandoned match has no official result yet. If the
  competition lets the score stand or awards the match, the provider moves the
  fixture on to FT/AWD, and a later sync follows; if it is replayed under the
  same id it returns to NS.

``home_score``/``away_score`` are ``goals``: the score after play including
extra time, excluding the shoot-out. ``periods`` keeps each period the source
reports, for ``matches.results.counting_score``: ``score.fulltime`` after
regular time, ``goals`` after extra time (AET/PEN only: ``score.extratime``
has disputed semantics, "ET goals only" or cumulative, so it is not used) and
``score.penalty`` for a shoot-out (PEN only). Scores are kept only for finished
matches (a live score is not final).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from matches.api_football.errors import MalformedResponse
from matches.models import MatchStatus
from matches.results import PeriodScores, Score, counting_score

STATUS_MAP: dict[str, MatchStatus] = {
    "TBD": MatchStatus.SCHEDULED,
    "NS": MatchStatus.SCHEDULED,
    "1H": MatchStatus.LIVE,
    "HT": MatchStatus.LIVE,
    "2H": MatchStatus.LIVE,
    "ET": MatchStatus.LIVE,
    "BT": MatchStatus.LIVE,
    "P": MatchStatus.LIVE,
    "SUSP": MatchStatus.LIVE,
    "INT": MatchStatus.LIVE,
    "LIVE": MatchStatus.LIVE,
    "FT": MatchStatus.FINISHED,
    "AET": MatchStatus.FINISHED,
    "PEN": MatchStatus.FINISHED,
    "AWD": MatchStatus.FINISHED,
    "WO": MatchStatus.FINISHED,
    "PST": MatchStatus.POSTPONED,
    "CANC": MatchStatus.CANCELLED,
    "ABD": MatchStatus.CANCELLED,
}
AWARDED_CODES = frozenset({"AWD", "WO"})
FINISHED_CODES = frozenset(code for code, status in STATUS_MAP.items() if status == MatchStatus.FINISHED)


class UnknownStatus(MalformedResponse):
    """A status short code outside the documented 19."""


def map_status(short: str) -> MatchStatus:
    """Our status for a provider short code; raises UnknownStatus for codes we have never seen."""
    try:
        return STATUS_MAP[short]
    except KeyError:
        raise UnknownStatus(f"unknown fixture status code {short!r}") from None


@dataclass(frozen=True)
class ParsedTeam:
    external_id: int
    name: str


@dataclass(frozen=True)
class ParsedLeague:
    external_id: int
    name: str
    country: str
    season: int


@dataclass(frozen=True)
class ParsedFixture:
    external_id: int
    kickoff_time: datetime  # aware, UTC
    status: MatchStatus
    status_code: str
    league: ParsedLeague
    round: str
    home_team: ParsedTeam
    away_team: ParsedTeam
    home_score: int | None  # the final score; None unless finished
    away_score: int | None
    elapsed: int | None = None
    venue: str | None = None
    referee: str | None = None
    periods: PeriodScores = field(default_factory=PeriodScores)

    def counting_score(self, rule: str) -> Score | None:
        """The result that counts under the competition's ``rule`` (None unless finished)."""
        return counting_score(rule, self.periods)


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponse(f"{what} is {value!r}, expected an integer or null")
    return value


def _final_score(obj: dict, code: str) -> tuple[int | None, int | None]:
    goals = obj.get("goals") or {}
    home = _int_or_none(goals.get("home"), "goals.home")
    away = _int_or_none(goals.get("away"), "goals.away")
    if (home is None or away is None) and code in AWARDED_CODES:
        fulltime = (obj.get("score") or {}).get("fulltime") or {}
        home = _int_or_none(fulltime.get("home"), "score.fulltime.home")
        away = _int_or_none(fulltime.get("away"), "score.fulltime.away")
    if home is None or away is None:
        return None, None
    return home, away


def _score_pair(obj: dict, key: str) -> Score | None:
    block = (obj.get("score") or {}).get(key) or {}
    home = _int_or_none(block.get("home"), f"score.{key}.home")
    away = _int_or_none(block.get("away"), f"score.{key}.away")
    return (home, away) if home is not None and away is not None else None


def _periods(obj: dict, code: str, final: Score | None) -> PeriodScores:
    """Period scores of a finished fixture; ``final`` is the score after play (``goals``)."""
    if final is None:
        return PeriodScores()
    if code in AWARDED_CODES:
        return PeriodScores(after_90=final)
    fulltime = _score_pair(obj, "fulltime")
    if code == "FT":
        return PeriodScores(after_90=fulltime or final)
    shootout = _score_pair(obj, "penalty") if code == "PEN" else None
    return PeriodScores(after_90=fulltime, after_extra_time=final, shootout=shootout)


def _kickoff(fixture: dict) -> datetime:
    """The timestamp is unambiguous UTC; the ISO date depends on the ``timezone`` parameter."""
    timestamp = fixture.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, UTC)
    date = fixture.get("date")
    if isinstance(date, str):
        try:
            parsed = datetime.fromisoformat(date)
        except ValueError:
            raise MalformedResponse(f"fixture.date {date!r} is not ISO-8601") from None
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    raise MalformedResponse("fixture has neither a timestamp nor an ISO date with an offset")


def parse_fixture(obj: dict) -> ParsedFixture:
    """One fixture object of /fixtures or /fixtures/headtohead; MalformedResponse if unreadable."""
    try:
        fixture, league, teams = obj["fixture"], obj["league"], obj["teams"]
        external_id = fixture["id"]
        code = fixture["status"]["short"]
        home, away = teams["home"], teams["away"]
        parsed_league = ParsedLeague(
            external_id=int(league["id"]),
            name=str(league.get("name") or ""),
            country=str(league.get("country") or ""),
            season=int(league["season"]),
        )
        home_team = ParsedTeam(int(home["id"]), str(home.get("name") or ""))
        away_team = ParsedTeam(int(away["id"]), str(away.get("name") or ""))
    except (KeyError, TypeError, ValueError) as exc:
        fid = obj.get("fixture", {}).get("id") if isinstance(obj.get("fixture"), dict) else None
        raise MalformedResponse(f"fixture {fid} lacks a required field ({exc!r})") from None
    if not isinstance(external_id, int) or isinstance(external_id, bool):
        raise MalformedResponse(f"fixture.id is {external_id!r}, expected an integer")

    status = map_status(code)
    home_score, away_score = _final_score(obj, code)
    if code in AWARDED_CODES and home_score is None:
        status = MatchStatus.CANCELLED
    if status != MatchStatus.FINISHED:
        home_score = away_score = None
    final = (home_score, away_score) if home_score is not None and away_score is not None else None
    venue = fixture.get("venue") or {}
    return ParsedFixture(
        external_id=external_id,
        kickoff_time=_kickoff(fixture),
        status=status,
        status_code=code,
        league=parsed_league,
        round=str(league.get("round") or ""),
        home_team=home_team,
        away_team=away_team,
        home_score=home_score,
        away_score=away_score,
        elapsed=_int_or_none(fixture["status"].get("elapsed"), "status.elapsed"),
        venue=venue.get("name"),
        referee=fixture.get("referee"),
        periods=_periods(obj, code, final),
    )
