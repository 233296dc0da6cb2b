"""Pre-kickoff analysis: the context a prediction is made from, rebuilt as of kickoff.

Tables and form are rebuilt from finished matches we hold (API-Football's
/standings and /predictions are current, not as-of, and are never used).
The API is asked only for what the database lacks, with date bounds that end
the day before kickoff, and its rows pass the same guard as ours.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from matches.api_football import ApiFootballClient
from matches.models import Competition, Match, MatchAnalysis, Team
from matches.services.leak_guard import (
    MatchFact,
    PreKickoffFacts,
    assert_payload_before_kickoff,
    latest_result_kickoff,
)

logger = logging.getLogger(__name__)

SCHEMA = 1
FORM_LENGTH = 6
HISTORY_DAYS = 730
# The API wants ``from`` with ``to``; meetings older than this say little about today's teams.
H2H_YEARS = 10
# API-Football statuses of a match played to a result; AWD/WO are awarded, not played.
API_FINISHED = frozenset({"FT", "AET", "PEN"})


class AnalysisRefused(Exception):
    """The match cannot be analysed (cancelled or postponed); the message says why."""


@dataclass(frozen=True)
class LeagueScope:
    """Which facts belong to the analysed match's league and competition season."""

    competition_id: int
    code: str
    external_id: int | None
    season: int

    @classmethod
    def of(cls, competition: Competition) -> "LeagueScope":
        return cls(competition.pk, competition.code, competition.external_id, competition.season)

    def q(self) -> Q:
        """The same rule as ``in_league``, for the database."""
        query = Q(competition_id=self.competition_id)
        if self.code:
            query |= Q(competition__code=self.code)
        if self.external_id is not None:
            query |= Q(competition__external_id=self.external_id)
        return query

    def in_league(self, fact: MatchFact) -> bool:
        """Same competition, same openfootball code, or same API-Football league id."""
        return (
            fact.competition_id == self.competition_id
            or (bool(self.code) and fact.league_code == self.code)
            or (self.external_id is not None and fact.league_external_id == self.external_id)
        )

    @property
    def lower_code(self) -> str:
        """The openfootball code of the division below (en.1 -> en.2), whose results rate promoted teams."""
        prefix, _, level = self.code.rpartition(".")
        return f"{prefix}.{int(level) + 1}" if prefix and level.isdigit() else ""

    def in_lower_tier(self, fact: MatchFact) -> bool:
        return bool(self.lower_code) and fact.league_code == self.lower_code

    def in_season(self, fact: MatchFact) -> bool:
        return self.in_league(fact) and fact.season == self.season


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _latest(facts: list[MatchFact]) -> str | None:
    return _iso(max(f.date for f in facts)) if facts else None


# --- gathering facts ------------------------------------------------------------


def _facts_from_db(match: Match, scope: LeagueScope, cutoff: datetime) -> Iterable[MatchFact]:
    """One query: the league's last two years, this competition season, and every match of either team.

    Only results known by ``cutoff`` (the analysis' as_of, never after kickoff) count.
    """
    kickoff = match.kickoff_time
    teams = (match.home_team_id, match.away_team_id)
    league_or_lower = scope.q() | Q(competition__code=scope.lower_code) if scope.lower_code else scope.q()
    rows = (
        Match.objects.filter(
            status=Match.Status.FINISHED,
            home_score__isnull=False,
            away_score__isnull=False,
            kickoff_time__lt=latest_result_kickoff(cutoff),
        )
        .filter(
            (league_or_lower & Q(kickoff_time__gte=kickoff - timedelta(days=HISTORY_DAYS)))
            | Q(competition_id=scope.competition_id)
            | Q(home_team_id__in=teams)
            | Q(away_team_id__in=teams)
        )
        .exclude(pk=match.pk)
        .values(
            "pk",
            "external_id",
            "kickoff_time",
            "competition_id",
            "competition__code",
            "competition__external_id",
            "competition__season",
            "competition__name",
            "home_team_id",
            "home_team__name",
            "away_team_id",
            "away_team__name",
            "home_score",
            "away_score",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        yield MatchFact(
            date=row["kickoff_time"],
            competition_id=row["competition_id"],
            league_code=row["competition__code"],
            league_external_id=row["competition__external_id"],
            season=row["competition__season"],
            competition=row["competition__name"],
            home_id=row["home_team_id"],
            home_name=row["home_team__name"],
            away_id=row["away_team_id"],
            away_name=row["away_team__name"],
            home_goals=row["home_score"],
            away_goals=row["away_score"],
            source="db",
            external_id=row["external_id"],
            match_id=row["pk"],
        )


def _needs_api(match: Match, facts: PreKickoffFacts, scope: LeagueScope) -> bool:
    """Ask the API only when we hold nothing of this competition season before kickoff."""
    if not settings.API_FOOTBALL_KEY or match.external_id is None or match.competition.external_id is None:
        return False
    return not any(scope.in_season(fact) for fact in facts)


def _fetch_api_rows(match: Match) -> list[dict]:
    """/fixtures of the season and /fixtures/headtohead, both bounded to the day before kickoff."""
    competition = match.competition
    last_day = match.kickoff_time.astimezone(UTC).date() - timedelta(days=1)
    # Jan 1 of the start year covers August starts and calendar-year seasons alike.
    season_start = date(competition.season, 1, 1)
    home_ext, away_ext = match.home_team.external_id, match.away_team.external_id
    rows: list[dict] = []
    with ApiFootballClient.from_settings() as client:
        if season_start <= last_day:
            rows += client.fixtures(
                league=competition.external_id,
                season=competition.season,
                **{"from": season_start.isoformat(), "to": last_day.isoformat()},
            )
        if home_ext is not None and away_ext is not None:
            since = date(last_day.year - H2H_YEARS, 1, 1)
            rows += client.head_to_head(home_ext, away_ext, **{"from": since.isoformat(), "to": last_day.isoformat()})
    return rows


def _facts_from_api(rows: list[dict], kickoff: datetime, *, own_fixture_id: int | None = None) -> list[MatchFact]:
    """Finished rows strictly before kickoff (the bounds are by day; this is by the second).

    The match's own fixture never counts, whatever date the API gives it: if our stored kickoff is
    stale (the match was brought forward), its own result would otherwise pass as an earlier fact.
    """
    played = []
    for row in rows:
        fixture, goals = row["fixture"], row["goals"]
        if fixture["id"] == own_fixture_id:
            continue
        if fixture["status"]["short"] not in API_FINISHED or goals["home"] is None or goals["away"] is None:
            continue
        when = datetime.fromtimestamp(fixture["timestamp"], tz=UTC)
        if when < latest_result_kickoff(kickoff):
            played.append((when, row))
    api_team_ids = {row["teams"][side]["id"] for _, row in played for side in ("home", "away")}
    known = {
        ext: (pk, name)
        for ext, pk, name in Team.objects.filter(external_id__in=api_team_ids).values_list("external_id", "pk", "name")
    }

    def team(api_team: dict) -> tuple[int, str]:
        # A team only the API knows gets a negative id: an int that can never be one of our pks.
        return known.get(api_team["id"], (-api_team["id"], api_team["name"]))

    facts = []
    for when, row in played:
        home_id, home_name = team(row["teams"]["home"])
        away_id, away_name = team(row["teams"]["away"])
        facts.append(
            MatchFact(
                date=when,
                competition_id=None,
                league_code="",
                league_external_id=row["league"]["id"],
                season=row["league"]["season"],
                competition=row["league"]["name"],
                home_id=home_id,
                home_name=home_name,
                away_id=away_id,
                away_name=away_name,
                home_goals=row["goals"]["home"],
                away_goals=row["goals"]["away"],
                source="api",
                external_id=row["fixture"]["id"],
            )
        )
    return facts


# --- composing the payload -----------------------------------------------------------


def _result(goals_for: int, goals_against: int) -> str:
    return "W" if goals_for > goals_against else "D" if goals_for == goals_against else "L"


def _form(team_id: int, facts: list[MatchFact]) -> list[dict]:
    """The team's last matches in any competition, newest first."""
    entries = []
    for fact in sorted((f for f in facts if team_id in (f.home_id, f.away_id)), key=lambda f: f.date, reverse=True):
        at_home = fact.home_id == team_id
        goals_for, goals_against = (fact.home_goals, fact.away_goals) if at_home else (fact.away_goals, fact.home_goals)
        entries.append(
            {
                "date": _iso(fact.date),
                "match_id": fact.match_id,
                "competition": fact.competition,
                "venue": "home" if at_home else "away",
                "opponent": {
                    "id": fact.away_id if at_home else fact.home_id,
                    "name": fact.away_name if at_home else fact.home_name,
                },
                "goals_for": goals_for,
                "goals_against": goals_against,
                "result": _result(goals_for, goals_against),
            }
        )
        if len(entries) == FORM_LENGTH:
            break
    return entries


def _rest(team_id: int, facts: list[MatchFact], kickoff: datetime) -> dict:
    """Whole days since the team's previous match (any competition)."""
    previous = max((f.date for f in facts if team_id in (f.home_id, f.away_id)), default=None)
    if previous is None:
        return {"date": None, "days": None}
    return {"date": _iso(previous), "days": (kickoff - previous).days}


def _blank_record() -> dict:
    return {"played": 0, "won": 0, "drawn": 0, "lost": 0, "goals_for": 0, "goals_against": 0, "points": 0}


def _count(record: dict, goals_for: int, goals_against: int) -> None:
    outcome = _result(goals_for, goals_against)
    record["played"] += 1
    record["won"] += outcome == "W"
    record["drawn"] += outcome == "D"
    record["lost"] += outcome == "L"
    record["goals_for"] += goals_for
    record["goals_against"] += goals_against
    record["points"] += {"W": 3, "D": 1, "L": 0}[outcome]


def _table(season_facts: list[MatchFact], match: Match) -> dict:
    """The league table from the season's matches before kickoff: points, goal diff, goals for, name."""
    names = {match.home_team_id: match.home_team.name, match.away_team_id: match.away_team.name}
    # Both teams appear even before their first match of the season.
    records: dict[int, dict] = {team_id: _blank_record() for team_id in names}
    for fact in season_facts:
        names[fact.home_id], names[fact.away_id] = fact.home_name, fact.away_name
        _count(records.setdefault(fact.home_id, _blank_record()), fact.home_goals, fact.away_goals)
        _count(records.setdefault(fact.away_id, _blank_record()), fact.away_goals, fact.home_goals)
    rows = []
    for team_id, record in records.items():
        goal_diff = record["goals_for"] - record["goals_against"]
        rows.append({"team_id": team_id, "team": names[team_id], **record, "goal_diff": goal_diff})
    rows.sort(key=lambda r: (-r["points"], -r["goal_diff"], -r["goals_for"], r["team"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return {"date": _latest(season_facts), "matches": len(season_facts), "rows": rows}


def _season_record(team_id: int, season_facts: list[MatchFact]) -> dict:
    home_facts = [f for f in season_facts if f.home_id == team_id]
    away_facts = [f for f in season_facts if f.away_id == team_id]
    home, away = _blank_record(), _blank_record()
    for fact in home_facts:
        _count(home, fact.home_goals, fact.away_goals)
    for fact in away_facts:
        _count(away, fact.away_goals, fact.home_goals)
    return {"date": _latest(home_facts + away_facts), "home": home, "away": away}


def _head_to_head(match: Match, facts: list[MatchFact]) -> dict:
    """Every meeting we know of, any competition, newest first; the summary is from the home team's side."""
    pair = {match.home_team_id, match.away_team_id}
    meetings = sorted((f for f in facts if {f.home_id, f.away_id} == pair), key=lambda f: f.date, reverse=True)
    summary = {"played": len(meetings), "home_team_wins": 0, "draws": 0, "away_team_wins": 0}
    for fact in meetings:
        winner = fact.home_id if fact.home_goals > fact.away_goals else fact.away_id
        if fact.home_goals == fact.away_goals:
            summary["draws"] += 1
        elif winner == match.home_team_id:
            summary["home_team_wins"] += 1
        else:
            summary["away_team_wins"] += 1
    return {
        "date": _latest(meetings),
        "summary": summary,
        "meetings": [
            {
                "date": _iso(f.date),
                "match_id": f.match_id,
                "competition": f.competition,
                "season": f.season,
                "home": {"id": f.home_id, "name": f.home_name},
                "away": {"id": f.away_id, "name": f.away_name},
                "home_goals": f.home_goals,
                "away_goals": f.away_goals,
            }
            for f in meetings
        ],
    }


def _history(league_facts: list[MatchFact], kickoff: datetime, lower_facts: Iterable[MatchFact] = ()) -> list[dict]:
    """The compact league history the statistical models fit on, oldest first.

    Results of the division below carry ``"level": 1``: they rate the promoted teams.
    """
    since = kickoff - timedelta(days=HISTORY_DAYS)
    tagged = [(f, 0) for f in league_facts] + [(f, 1) for f in lower_facts]
    return [
        {
            "date": _iso(f.date),
            "home_id": f.home_id,
            "away_id": f.away_id,
            "home_goals": f.home_goals,
            "away_goals": f.away_goals,
        }
        | ({"level": level} if level else {})
        for f, level in sorted(tagged, key=lambda item: (item[0].date, item[1], item[0].home_id))
        if f.date >= since
    ]


def _compose(match: Match, facts: PreKickoffFacts, scope: LeagueScope, as_of: datetime) -> dict:
    kickoff = match.kickoff_time
    every = list(facts)
    league = [f for f in every if scope.in_league(f)]
    season = [f for f in league if scope.in_season(f)]
    sides = {"home": match.home_team_id, "away": match.away_team_id}
    return {
        "schema": SCHEMA,
        "as_of": _iso(as_of),
        # Identity only: the match's own score and status are the label, never context.
        "match": {
            "id": match.pk,
            "competition": match.competition.name,
            "season": match.competition.season,
            "round": match.round,
            "kickoff_time": _iso(kickoff),
            "home_team": {"id": match.home_team_id, "name": match.home_team.name},
            "away_team": {"id": match.away_team_id, "name": match.away_team.name},
        },
        "sources": {"db": sum(f.source == "db" for f in every), "api": sum(f.source == "api" for f in every)},
        "form": {side: _form(team_id, every) for side, team_id in sides.items()},
        "rest": {side: _rest(team_id, every, kickoff) for side, team_id in sides.items()},
        "season_record": {side: _season_record(team_id, season) for side, team_id in sides.items()},
        "table": _table(season, match),
        "head_to_head": _head_to_head(match, every),
        "history": _history(league, kickoff, [f for f in every if scope.in_lower_tier(f)]),
    }


# --- public API ------------------------------------------------------------------------


def build_analysis(match: Match, *, as_of: datetime | None = None) -> MatchAnalysis:
    """Build (not save) the analysis of ``match`` as of ``as_of`` (default and latest: its kickoff).

    Raises LeakError on any fact not known by then.
    """
    kickoff = match.kickoff_time
    cutoff = min(as_of, kickoff) if as_of is not None else kickoff
    scope = LeagueScope.of(match.competition)
    facts = PreKickoffFacts(cutoff)
    for fact in _facts_from_db(match, scope, cutoff):
        facts.add(fact)
    if _needs_api(match, facts, scope):
        for fact in _facts_from_api(_fetch_api_rows(match), cutoff, own_fixture_id=match.external_id):
            facts.add(fact)
    data = _compose(match, facts, scope, cutoff)
    assert_payload_before_kickoff(data, cutoff)
    return MatchAnalysis(match=match, as_of=cutoff, data=data)


def ensure_analysis(*, match_id: int, as_of: datetime | None = None) -> tuple[MatchAnalysis, bool]:
    """The match's current analysis; a new version only when it has no valid one (as_of <= kickoff).

    A version is never changed once saved (a prediction may reference it). The match row is
    locked while deciding, so concurrent runs make one version.
    """
    with transaction.atomic():
        match = Match.objects.select_for_update().get(pk=match_id)
        if match.is_called_off:
            raise AnalysisRefused(f"match {match_id} is {match.status}; it has no kickoff to analyse as of")
        current = match.analysis
        if current is not None:
            return current, False
        match = Match.objects.select_related("competition", "home_team", "away_team").get(pk=match_id)
        built = build_analysis(match, as_of=as_of)  # its payload has passed the leak guard
        built.save()
    logger.info(
        "analysis of match %s created as of %s (%s facts)", match_id, built.as_of.isoformat(), built.data["sources"],
        extra={"match_id": match_id},
    )
    return built, True
