"""The one place that decides whether a fact is pre-kickoff.

A retroactive prediction is only honest if its context was knowable before
kickoff. Every dated fact of an analysis enters through ``PreKickoffFacts``
(which calls ``assert_before_kickoff``) and the finished payload is walked
by ``assert_payload_before_kickoff`` before it is saved, so a bug anywhere
else raises ``LeakError`` instead of leaking silently.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# Keys holding the date of a fact; any of them anywhere in a payload is checked.
DATE_KEYS = frozenset({"date"})
# Where a payload names the kickoff itself (what the analysis is as of), not a fact.
KICKOFF_PATHS = frozenset({"data.as_of", "data.match.kickoff_time"})
# Any other string that reads as a date is a fact's date too, whatever its key.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
# A result is dated by its match's kickoff but known only once the match is over: 90 minutes,
# half-time, stoppage and extra time fit in two and a half hours.
RESULT_KNOWN_AFTER = timedelta(hours=2, minutes=30)


def latest_result_kickoff(kickoff: datetime) -> datetime:
    """Results of matches kicked off before this instant were known before ``kickoff``."""
    return kickoff - RESULT_KNOWN_AFTER


class LeakError(Exception):
    """A fact dated at or after kickoff was about to enter a pre-kickoff context."""


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise LeakError(f"naive datetime {value.isoformat()} cannot be compared with a kickoff")
    return value.astimezone(UTC)


def assert_before_kickoff(when: datetime | date | str | None, kickoff: datetime, *, what: str = "fact") -> None:
    """Raise LeakError unless ``when`` is strictly before ``kickoff``.

    A bare date (no time) could be any instant of that day, so it must be a
    day before kickoff's UTC date. Unparseable or naive values raise too: a
    date the guard cannot judge is not allowed through.
    """
    if when is None:
        raise LeakError(f"{what} has no date; every fact of an analysis must be dated")
    kickoff_utc = _as_utc(kickoff)
    if isinstance(when, str):
        try:
            parsed: datetime | date = datetime.fromisoformat(when) if "T" in when else date.fromisoformat(when)
        except ValueError as exc:
            raise LeakError(f"{what} has an unreadable date {when!r}") from exc
        when = parsed
    if isinstance(when, datetime):
        if _as_utc(when) >= kickoff_utc:
            raise LeakError(f"{what} dated {when.isoformat()} is not before kickoff {kickoff_utc.isoformat()}")
    elif when >= kickoff_utc.date():
        raise LeakError(f"{what} dated {when.isoformat()} is not a day before kickoff {kickoff_utc.isoformat()}")


def assert_results_known_before(dates: Iterable[datetime], kickoff: datetime, *, what: str = "result") -> None:
    """Raise LeakError unless every result (dated by its kickoff) was over before ``kickoff``.

    The statistical models fit on bare result rows (``analysis["history"]``);
    each passes through here before a model sees it, so a row from the match
    itself, a later one, or one still being played cannot reach a fit.
    """
    cutoff = latest_result_kickoff(_as_utc(kickoff))
    for index, when in enumerate(dates):
        assert_before_kickoff(when, cutoff, what=f"{what} {index} (known only at its end)")


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, kind, value): kind "result" for a ``date`` key, "dated" for any other date-like string."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key in DATE_KEYS:
                yield where, "result", value
            else:
                yield from _walk(value, where)
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")
    elif isinstance(node, str) and _ISO_DATE.match(node) and path not in KICKOFF_PATHS:
        yield path, "dated", node


def assert_payload_before_kickoff(payload: dict, kickoff: datetime) -> None:
    """Check every date anywhere in a payload; an aggregate with no facts may say ``None``.

    Every ``date`` of an analysis is a result's (its match's kickoff), so each must leave time for
    that match to end before ``kickoff``. Any other value that reads as a date, under whatever
    key, must at least be before kickoff: a fact stored under a new key is checked too.
    """
    cutoff = latest_result_kickoff(kickoff)
    for where, kind, value in _walk(payload, "data"):
        if value is None:
            continue
        if kind == "result":
            assert_before_kickoff(value, cutoff, what=f"result at {where} (known only at its end)")
        else:
            assert_before_kickoff(value, kickoff, what=f"value at {where}")


@dataclass(frozen=True)
class MatchFact:
    """One finished match known before kickoff, from our database or from the API."""

    date: datetime
    competition_id: int | None  # ours; None for a row only the API knows
    league_code: str
    league_external_id: int | None
    season: int
    competition: str
    home_id: int
    home_name: str
    away_id: int
    away_name: str
    home_goals: int
    away_goals: int
    source: str  # "db" or "api"
    external_id: int | None = None
    match_id: int | None = None


class PreKickoffFacts:
    """The only way facts enter an analysis: each is checked against kickoff as it is added."""

    def __init__(self, kickoff: datetime) -> None:
        self.kickoff = kickoff
        self._facts: list[MatchFact] = []
        self._external_ids: set[int] = set()

    def add(self, fact: MatchFact) -> None:
        # The result's date is its kickoff; it was known only RESULT_KNOWN_AFTER later.
        assert_before_kickoff(
            fact.date + RESULT_KNOWN_AFTER, self.kickoff,
            what=f"result of {fact.source} match {fact.home_name} v {fact.away_name} (known at its end)",
        )
        if fact.external_id is not None:
            if fact.external_id in self._external_ids:
                return
            self._external_ids.add(fact.external_id)
        self._facts.append(fact)

    def __iter__(self) -> Iterator[MatchFact]:
        return iter(sorted(self._facts, key=lambda f: (f.date, f.home_name)))

    def __len__(self) -> int:
        return len(self._facts)
