"""Load vendored openfootball seasons into the database (no network)."""

import json

from django.core.management.base import CommandParser

from config.commands import ProjectCommand, usage_error
from matches.openfootball import LEAGUES, SEASONS, parse_season_label, seasons_of
from matches.services.openfootball_import import import_season


class Command(ProjectCommand):
    help = "Load real results from the vendored openfootball data (CC0) as competitions, teams and matches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--league", help=f"league code, one of {', '.join(LEAGUES)}")
        parser.add_argument("--season", help=f"season such as 2024-25; vendored: {', '.join(SEASONS)}")
        parser.add_argument(
            "--all",
            action="store_true",
            help="every vendored league and season (narrowed by --league or --season if given)",
        )
        parser.add_argument("--json", action="store_true", help="print the results as JSON")

    def _targets(self, options: dict) -> list[tuple[str, str]]:
        league, season = options["league"], options["season"]
        if league is not None and league not in LEAGUES:
            raise usage_error(f"unknown league {league!r}: use one of {', '.join(LEAGUES)}")
        if season is not None:
            try:
                season = parse_season_label(season)
            except ValueError as exc:
                raise usage_error(f"{exc}; vendored seasons: {', '.join(SEASONS)}") from exc
            if season not in SEASONS:
                raise usage_error(f"no vendored data for season {season}: use one of {', '.join(SEASONS)}")
        if options["all"]:
            return [(c, s) for c in LEAGUES for s in seasons_of(c) if league in (None, c) and season in (None, s)]
        if league is None or season is None:
            raise usage_error("give --league and --season (e.g. --league en.1 --season 2024-25), or --all")
        return [(league, season)]

    def handle(self, *args, **options) -> None:
        results = []
        for code, season in self._targets(options):
            try:
                result = import_season(code, season)
            except ValueError as exc:
                raise usage_error(str(exc)) from None
            results.append(result)
            if not options["json"]:
                if result.changed:
                    self.stdout.write(
                        f"{code} {result.season}: {result.competition}: "
                        f"{'competition created, ' if result.competition_created else ''}"
                        f"{result.teams_created} teams and {result.matches_created} matches created, "
                        f"{result.matches_existing} matches already present"
                    )
                else:
                    self.stdout.write(f"{code} {result.season}: already loaded, nothing changed")
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in results], indent=2))
