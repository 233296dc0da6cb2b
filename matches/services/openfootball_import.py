"""Load vendored openfootball seasons (CC0) as competitions, teams and matches, with no network.

Real history makes the demo and the analysis tests honest. openfootball has
no API-Football ids, so everything is keyed naturally: a competition by
(code, season), a team by name, a match by (competition, home, away), which
is unique within a league season. ``shift`` and ``external_id`` let the demo
seeder move a season in time and give its matches API ids.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction

from matches.models import Competition, Match, Team
from matches.openfootball import RESULT_RULES, OpenFootballMatch, load_season
from matches.results import AFTER_90

logger = logging.getLogger(__name__)

# Serialises imports on PostgreSQL: teams are found by name, which no constraint makes unique.
_ADVISORY_LOCK_KEY = 0x6B69636B  # "kick"
_SEASON_SUFFIX = re.compile(r"\s+\d{4}/\d{2}$")


@dataclass
class ImportResult:
    code: str
    season: str
    competition: Competition
    competition_created: bool
    teams_created: int
    matches_created: int
    matches_existing: int
    created: list[Match] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return self.competition_created or bool(self.teams_created or self.matches_created)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "season": self.season,
            "competition_id": self.competition.pk,
            "competition_created": self.competition_created,
            "teams_created": self.teams_created,
            "matches_created": self.matches_created,
            "matches_existing": self.matches_existing,
        }


def _teams_by_name(names: set[str]) -> tuple[dict[str, Team], int]:
    """Existing teams by name (the oldest wins a duplicate name); missing ones created in one insert."""
    found: dict[str, Team] = {}
    for team in Team.objects.filter(name__in=names).order_by("-pk"):
        found[team.name] = team
    missing = sorted(names - found.keys())
    if missing:
        Team.objects.bulk_create([Team(name=name) for name in missing])
        for team in Team.objects.filter(name__in=missing).order_by("-pk"):
            found[team.name] = team
    return found, len(missing)


def _status_code(row: OpenFootballMatch) -> str:
    """API-Football's code for how the match ended: FT, AET or PEN."""
    if row.periods.shootout is not None:
        return "PEN"
    return "AET" if row.periods.after_extra_time is not None else "FT"


def _period_fields(row: OpenFootballMatch) -> dict[str, int | None]:
    p = row.periods
    values: dict[str, int | None] = {}
    for prefix, pair in (("90", p.after_90), ("et", p.after_extra_time), ("pen", p.shootout)):
        values[f"score_{prefix}_home"], values[f"score_{prefix}_away"] = pair or (None, None)
    return values


def import_season(
    code: str,
    season: str,
    *,
    shift: timedelta = timedelta(0),
    external_id: Callable[[OpenFootballMatch], int | None] | None = None,
) -> ImportResult:
    """Import one vendored league season idempotently; a second run creates nothing.

    ``shift`` moves every kickoff (the demo replays old seasons near today);
    ``external_id`` gives a new match its API-Football id. Raises ValueError
    for an unknown league or season.
    """
    source = load_season(code, season)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        competition, competition_created = Competition.objects.get_or_create(
            code=code,
            season=source.start_year,
            defaults={
                "name": _SEASON_SUFFIX.sub("", source.name),
                "country": source.country,
                "external_id": None,
                "result_rule": RESULT_RULES.get(code, AFTER_90),
            },
        )
        teams, teams_created = _teams_by_name(
            {m.home_team for m in source.matches} | {m.away_team for m in source.matches}
        )
        existing = set(Match.objects.filter(competition=competition).values_list("home_team_id", "away_team_id"))
        new: list[Match] = []
        for row in source.matches:
            key = (teams[row.home_team].pk, teams[row.away_team].pk)
            if key in existing:
                continue
            existing.add(key)
            counted = row.counting_score(competition.result_rule)
            played = counted is not None
            new.append(
                Match(
                    external_id=external_id(row) if external_id else None,
                    competition=competition,
                    home_team=teams[row.home_team],
                    away_team=teams[row.away_team],
                    kickoff_time=row.kickoff_time + shift,
                    status=Match.Status.FINISHED if played else Match.Status.SCHEDULED,
                    status_code=_status_code(row) if played else "NS",
                    home_score=counted[0] if counted else None,
                    away_score=counted[1] if counted else None,
                    **_period_fields(row),
                    round=row.round,
                )
            )
        created = Match.objects.bulk_create(new, batch_size=500)
    result = ImportResult(
        code=code,
        season=source.season,
        competition=competition,
        competition_created=competition_created,
        teams_created=teams_created,
        matches_created=len(created),
        matches_existing=len(source.matches) - len(created),
        created=created,
    )
    logger.info("openfootball import %s", result.as_dict())
    return result
