"""Live scores: observe matches (API-Football by id, or the replay), store what changed, settle at once.

A final score and its settlement are written in one transaction, so points
never lag behind a stored result.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from matches.api_football import ApiFootballClient, MalformedResponse, parse_fixture
from matches.models import Match
from pipeline.models import ReplayOutage, ReplayResult
from predictions.services import settle_match

logger = logging.getLogger(__name__)

# /fixtures?ids= takes at most 20 fixture ids per call.
IDS_PER_CALL = 20
FINAL = (Match.Status.FINISHED, *Match.CALLED_OFF)


@dataclass(frozen=True)
class Observation:
    match_id: int
    kickoff_time: datetime
    status: str
    status_code: str
    home_score: int | None
    away_score: int | None


def label(match: Match) -> str:
    return f"{match.home_team.name} v {match.away_team.name}"


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class ReplayUnavailable(Exception):
    """The replay's result source is down at this replayed moment (a ReplayOutage covers it)."""


def observe_replay(matches: Iterable[Match], now: datetime) -> list[Observation]:
    """Live from kickoff, the real result once ``now`` passes the match's end; nothing before.

    Raises ReplayUnavailable while an outage of the source covers ``now`` (as the API raises when down).
    """
    matches = list(matches)
    if matches and (down := ReplayOutage.objects.filter(starts_at__lte=now, ends_at__gt=now).first()):
        raise ReplayUnavailable(f"the replay's result source is down until {down.ends_at.isoformat()}"
                                + (f" ({down.reason})" if down.reason else ""))
    results = {r.match_id: r for r in ReplayResult.objects.filter(match__in=matches)}
    seen = []
    for match in matches:
        result = results.get(match.pk)
        if result is None or now < match.kickoff_time:
            continue
        if now >= result.ends_at:
            seen.append(Observation(match.pk, match.kickoff_time, Match.Status.FINISHED, "FT",
                                    result.home_score, result.away_score))
        else:
            seen.append(Observation(match.pk, match.kickoff_time, Match.Status.LIVE, "LIVE", None, None))
    return seen


def observe_api(matches: Iterable[Match], problems: list[str]) -> tuple[list[Observation], int]:
    """One /fixtures?ids= call per 20 matches; (observations, API calls made). Raises ApiFootballError."""
    by_fixture = {m.external_id: m for m in matches if m.external_id is not None}
    seen, calls = [], 0
    with ApiFootballClient.from_settings() as client:
        for chunk in _chunks(sorted(by_fixture), IDS_PER_CALL):
            calls += 1
            for raw in client.fixtures(ids=chunk):
                try:
                    fixture = parse_fixture(raw)
                except MalformedResponse as exc:
                    problems.append(str(exc))
                    continue
                match = by_fixture.get(fixture.external_id)
                if match is not None:
                    seen.append(Observation(match.pk, fixture.kickoff_time, fixture.status, fixture.status_code,
                                            fixture.home_score, fixture.away_score))
    return seen, calls


def split_by_source(matches: Iterable[Match]) -> tuple[list[Match], list[Match]]:
    """(replayed, API-Football): a replayed match is never asked of the API."""
    matches = list(matches)
    replayed = set(ReplayResult.objects.filter(match__in=matches).values_list("match_id", flat=True))
    api = [m for m in matches if m.pk not in replayed and m.external_id is not None and settings.API_FOOTBALL_KEY]
    return [m for m in matches if m.pk in replayed], api


def store(observation: Observation) -> dict | None:
    """Write what changed; a match now final is settled in the same transaction. None: nothing changed."""
    values = {
        "kickoff_time": observation.kickoff_time,
        "status": observation.status,
        "status_code": observation.status_code,
        "home_score": observation.home_score,
        "away_score": observation.away_score,
    }
    with transaction.atomic():
        match = Match.objects.select_for_update().select_related("home_team", "away_team").get(
            pk=observation.match_id
        )
        changed = [name for name, value in values.items() if getattr(match, name) != value]
        if not changed:
            return None
        for name in changed:
            setattr(match, name, values[name])
        match.save(update_fields=[*changed, "updated_at"])
        outcome = ""
        if match.status in FINAL and (match.status != Match.Status.FINISHED or match.has_score):
            outcome = settle_match(match.pk).outcome
    logger.info("match %s (%s) is %s %s", match.pk, label(match), match.status, match.status_code,
                extra={"match_id": match.pk, "changed": changed, "settled": outcome})
    return {
        "match_id": match.pk,
        "match": label(match),
        "status": match.status,
        "status_code": match.status_code,
        "score": [match.home_score, match.away_score] if match.has_score else None,
        "settled": outcome,
    }
