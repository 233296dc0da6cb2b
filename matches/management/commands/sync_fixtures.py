"""Upsert one league season of fixtures from API-Football and re-settle what changed (thin: parse, call, report)."""

import json
from datetime import date

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from config.commands import ProjectCommand, unavailable, usage_error
from matches.api_football import ApiFootballError
from matches.api_football.errors import (
    ApiConnectionError,
    ApiTimeout,
    BudgetUnavailable,
    DailyQuotaExhausted,
    RateLimited,
    ServerError,
)
from predictions.services import sync_and_settle


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise usage_error(f"{option} {value!r} is not a date: use YYYY-MM-DD, e.g. 2024-08-16") from None


# Failures that say "not now" rather than "not this": exit 4, a service unavailable.
UNREACHABLE = (ApiConnectionError, ApiTimeout, ServerError, RateLimited, DailyQuotaExhausted, BudgetUnavailable)


class Command(ProjectCommand):
    help = "Fetch the fixtures of one league season from API-Football and upsert competitions, teams and matches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--league", required=True, help="API-Football league id, e.g. 39 (Premier League)")
        parser.add_argument("--season", required=True, help="start year of the season, e.g. 2024 for 2024-25")
        parser.add_argument("--from", dest="date_from", help="first kickoff date, YYYY-MM-DD (needs --to)")
        parser.add_argument("--to", dest="date_to", help="last kickoff date, YYYY-MM-DD (needs --from)")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options) -> None:
        league_text, season_text = str(options["league"]).strip(), str(options["season"]).strip()
        # isascii(): str.isdigit() also accepts "²", which int() refuses.
        if not (league_text.isascii() and league_text.isdigit()) or int(league_text) < 1:
            raise usage_error(f"--league {league_text!r} is not an API-Football league id (a positive integer)")
        if not (len(season_text) == 4 and season_text.isascii() and season_text.isdigit()
                and 1900 <= int(season_text) <= 2100):
            raise usage_error(f"--season {season_text!r} is not a 4-digit start year, e.g. 2024 for 2024-25")
        date_from, date_to = _date(options["date_from"], "--from"), _date(options["date_to"], "--to")
        if (date_from is None) != (date_to is None):
            raise usage_error("--from and --to go together: give both or neither")
        if date_from and date_to and date_from > date_to:
            raise usage_error(f"--from {date_from} is after --to {date_to}")
        if not settings.API_FOOTBALL_KEY:
            raise usage_error(
                "API_FOOTBALL_KEY is not set: put your API-Football key in the environment or in .env, then rerun"
            )

        try:
            result = sync_and_settle(
                league=int(league_text), season=int(season_text), date_from=date_from, date_to=date_to
            )
        except UNREACHABLE as exc:
            raise unavailable(
                f"API-Football is unavailable ({type(exc).__name__}): {exc}; try again later"
            ) from None
        except ApiFootballError as exc:
            raise CommandError(f"API-Football refused the sync ({type(exc).__name__}): {exc}") from None

        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            self.stdout.write(result.summary())
            for problem in result.problems:
                self.stderr.write(f"warning: {problem}")
        if result.problems:
            raise CommandError(f"{len(result.problems)} fixture(s) could not be synced or re-settled (see warnings)")
