"""Fixture sync: upsert API-Football fixtures into Competition, Team and Match.

Idempotent by external id: a second run with the same data writes nothing and
reports every match unchanged. Queries are per batch, not per fixture.

The sync knows nothing of predictions: it reports in ``result_changed`` the
matches whose outcome changed after they were settled (or that were called
off), and the caller one layer up re-settles them inside the same
``transaction.atomic()`` (``predictions.services.sync_and_settle``), so points
never disagree with the stored result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from matches.api_football import ApiFootballClient, MalformedResponse, ParsedFixture, parse_fixture
from matches.models import Competition, Match, MatchStatus, Team

logger = logging.getLogger(__name__)

# Fields the sync owns on Match; anything else (quotas, settled_at) belongs to settlement.
MATCH_FIELDS = (
    "competition_id",
    "home_team_id",
    "away_team_id",
    "kickoff_time",
    "status",
    "status_code",
    "home_score",
    "away_score",
    "score_90_home",
    "score_90_away",
    "score_et_home",
    "score_et_away",
    "score_pen_home",
    "score_pen_away",
    "round",
)


@dataclass
class SyncResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    competitions_created: int = 0
    competitions_updated: int = 0
    teams_created: int = 0
    teams_updated: int = 0
    # Settled (or newly called-off) matches whose outcome changed: the caller must re-settle them.
    result_changed: list[int] = field(default_factory=list)
    # Filled by the caller that re-settles (predictions.services.sync_and_settle).
    resettled: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.competitions_created
            or self.competitions_updated
            or self.teams_created
            or self.teams_updated
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "changed": self.changed}

    def summary(self) -> str:
        text = (
            f"{self.fetched} fixtures fetched; matches: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped; teams: {self.teams_created} created, "
            f"{self.teams_updated} renamed; competitions: {self.competitions_created} created, "
            f"{self.competitions_updated} updated; {len(self.resettled)} re-settled"
        )
        return text if self.changed else f"{text}. Nothing changed."


@dataclass
class FetchedFixtures:
    fetched: int
    parsed: list[ParsedFixture]
    problems: list[str]


def fetch_fixtures(
    *,
    league: int,
    season: int,
    date_from: date | None = None,
    date_to: date | None = None,
    client: ApiFootballClient | None = None,
) -> FetchedFixtures:
    """One API request for a league season (optionally a date window), parsed; writes nothing."""
    params: dict = {"league": league, "season": season}
    if date_from is not None:
        params["from_"] = date_from
    if date_to is not None:
        params["to"] = date_to
    own_client = client is None
    client = client or ApiFootballClient.from_settings()
    try:
        raw = client.fixtures(**params)
    finally:
        if own_client:
            client.close()
    parsed: list[ParsedFixture] = []
    problems: list[str] = []
    for item in raw:
        try:
            parsed.append(parse_fixture(item))
        except MalformedResponse as exc:
            # One unreadable fixture must not hold back the rest of the season.
            problems.append(str(exc))
            logger.warning("skipped an unreadable fixture", extra={"error": str(exc)})
    return FetchedFixtures(fetched=len(raw), parsed=parsed, problems=problems)


def record_fetch(result: SyncResult, fetched: FetchedFixtures, *, league: int, season: int) -> SyncResult:
    """Add what the fetch saw (unreadable fixtures count as skipped) to the upsert's result, and log it."""
    result.fetched = fetched.fetched
    result.skipped += len(fetched.problems)
    result.problems.extend(fetched.problems)
    logger.info("fixture sync done", extra={"league": league, "season": season, "sync": result.as_dict()})
    return result


def sync_fixtures(
    *,
    league: int,
    season: int,
    date_from: date | None = None,
    date_to: date | None = None,
    client: ApiFootballClient | None = None,
) -> SyncResult:
    """Fetch one league season and upsert it; settles nothing (see ``result_changed``)."""
    fetched = fetch_fixtures(league=league, season=season, date_from=date_from, date_to=date_to, client=client)
    return record_fetch(upsert_fixtures(fetched.parsed), fetched, league=league, season=season)


def upsert_fixtures(fixtures: Iterable[ParsedFixture]) -> SyncResult:
    """Write parsed fixtures in one transaction; a fixed number of queries per batch."""
    by_id: dict[int, ParsedFixture] = {f.external_id: f for f in fixtures}  # the last copy of a duplicate wins
    result = SyncResult(fetched=len(by_id))
    if not by_id:
        return result
    with transaction.atomic():
        competitions = _upsert_competitions(by_id.values(), result)
        teams = _upsert_teams(by_id.values(), result)
        _upsert_matches(by_id, competitions, teams, result)
    return result


def _upsert_competitions(fixtures: Iterable[ParsedFixture], result: SyncResult) -> dict[tuple[int, int], int]:
    leagues = {(f.league.external_id, f.league.season): f.league for f in fixtures}
    ids: dict[tuple[int, int], int] = {}
    for (external_id, season), league in leagues.items():
        competition, created = Competition.objects.select_for_update().get_or_create(
            external_id=external_id,
            season=season,
            defaults={"name": league.name or f"League {external_id}", "country": league.country},
        )
        if created:
            result.competitions_created += 1
        elif league.name and (competition.name, competition.country) != (league.name, league.country):
            competition.name, competition.country = league.name, league.country
            competition.save(update_fields=["name", "country", "updated_at"])
            result.competitions_updated += 1
        ids[(external_id, season)] = competition.pk
    return ids


def _upsert_teams(fixtures: Iterable[ParsedFixture], result: SyncResult) -> dict[int, int]:
    # An empty name from the API is no name: it never renames a team we know.
    names: dict[int, str] = {}
    for f in fixtures:
        for team in (f.home_team, f.away_team):
            names[team.external_id] = team.name or names.get(team.external_id, "")
    existing = {t.external_id: t for t in Team.objects.select_for_update().filter(external_id__in=names)}
    renamed = []
    for external_id, team in existing.items():
        if names[external_id] and team.name != names[external_id]:
            team.name = names[external_id]
            renamed.append(team)
    Team.objects.bulk_update(renamed, ["name"])
    new = [Team(external_id=i, name=name or f"Team {i}") for i, name in names.items() if i not in existing]
    # ignore_conflicts: a concurrent sync may insert the same team; it is re-read below either way.
    Team.objects.bulk_create(new, ignore_conflicts=True)
    result.teams_created, result.teams_updated = len(new), len(renamed)
    return dict(Team.objects.filter(external_id__in=names).values_list("external_id", "pk"))


def _period_fields(f: ParsedFixture) -> dict[str, int | None]:
    """The Match.score_* columns of a parsed fixture's period scores."""
    values: dict[str, int | None] = {}
    for prefix, pair in (("90", f.periods.after_90), ("et", f.periods.after_extra_time), ("pen", f.periods.shootout)):
        values[f"score_{prefix}_home"], values[f"score_{prefix}_away"] = pair or (None, None)
    return values


def _upsert_matches(
    by_id: dict[int, ParsedFixture],
    competitions: dict[tuple[int, int], int],
    teams: dict[int, int],
    result: SyncResult,
) -> None:
    existing = {m.external_id: m for m in Match.objects.select_for_update().filter(external_id__in=by_id)}
    now = timezone.now()
    to_create: list[Match] = []
    to_update: list[Match] = []
    resettle: list[int] = []
    rules = dict(Competition.objects.filter(pk__in=competitions.values()).values_list("pk", "result_rule"))
    for external_id, f in by_id.items():
        competition_id = competitions[(f.league.external_id, f.league.season)]
        counted = f.counting_score(rules[competition_id]) if f.status == MatchStatus.FINISHED else None
        values = {
            "competition_id": competition_id,
            "home_team_id": teams[f.home_team.external_id],
            "away_team_id": teams[f.away_team.external_id],
            "kickoff_time": f.kickoff_time,
            "status": f.status,
            "status_code": f.status_code,
            "home_score": counted[0] if counted else None,
            "away_score": counted[1] if counted else None,
            **_period_fields(f),
            "round": f.round,
        }
        if values["home_team_id"] == values["away_team_id"]:
            result.skipped += 1
            result.problems.append(f"fixture {external_id}: a team cannot play itself")
            continue
        match = existing.get(external_id)
        if match is None:
            to_create.append(Match(external_id=external_id, **values))
            continue
        changed = {name for name, value in values.items() if getattr(match, name) != value}
        if not changed:
            result.unchanged += 1
            continue
        outcome_changed = bool(changed & {"status", "home_score", "away_score"})
        for name in changed:
            setattr(match, name, values[name])
        match.updated_at = now
        to_update.append(match)
        if outcome_changed and (match.settled_at is not None or match.is_called_off):
            # Settled matches are re-scored; newly cancelled or postponed ones have their predictions voided.
            resettle.append(match.pk)
    Match.objects.bulk_create(to_create)
    Match.objects.bulk_update(to_update, [*MATCH_FIELDS, "updated_at"])
    result.created, result.updated = len(to_create), len(to_update)
    for match in to_update:
        if match.pk in resettle and match.status != Match.Status.FINISHED and not match.is_called_off:
            # E.g. a corrected fixture set back to live: nothing final to score against yet.
            result.problems.append(f"match {match.pk} was settled but is now {match.status}; not re-settled")
            resettle.remove(match.pk)
    result.result_changed = resettle
