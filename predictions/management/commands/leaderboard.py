"""``python manage.py leaderboard [--json] [filters]``: rank the models by points per settled match."""

from __future__ import annotations

import argparse
import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from predictions.leaderboard import (
    EMPTY_MESSAGE,
    Leaderboard,
    LeaderboardError,
    Scope,
    check_names,
    leaderboard,
    parse_season,
)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _season(value: str) -> int:
    try:
        return parse_season(value)
    except LeaderboardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = (
        "Rank the prediction models by mean points per settled match, with 95% t-intervals. By default only "
        "predictions made before kickoff count; the contamination check flags models whose retroactive "
        "predictions score better than their pre-kickoff ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--include-retroactive", action="store_true",
                            help="also count predictions made at or after kickoff")
        parser.add_argument("--competition", action="append", default=[], metavar="CODE",
                            help="competition code such as en.1 (repeatable)")
        parser.add_argument("--team", metavar="NAME", help="matches of this team, home or away")
        parser.add_argument("--season", type=_season, metavar="YEAR", help="season start year: 2024 or 2024-25")
        parser.add_argument("--from", dest="date_from", type=_date, metavar="DATE", help="kickoff on or after")
        parser.add_argument("--to", dest="date_to", type=_date, metavar="DATE", help="kickoff on or before")
        parser.add_argument("--days", type=int, metavar="N", help="kickoff in the last N days")
        parser.add_argument("--min-predictions", type=int, default=1, metavar="N",
                            help="leave out models with fewer counted predictions")
        parser.add_argument("--common", action="store_true",
                            help="rank every listed model only on the matches all of them predicted")
        parser.add_argument("--prompt-version", metavar="V", help="only predictions of this prompt/model version")

    def handle(self, *args, **options) -> None:
        try:
            scope = Scope(
                competitions=tuple(options["competition"]), team=options["team"], season=options["season"],
                date_from=options["date_from"], date_to=options["date_to"], days=options["days"],
                min_predictions=options["min_predictions"], include_retroactive=options["include_retroactive"],
                common=options["common"], prompt_version=options["prompt_version"],
            )
            check_names(scope)
            board = leaderboard(scope)
        except LeaderboardError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except DatabaseError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"database unavailable: {first_line}", returncode=4) from None
        if options["json"]:
            self.stdout.write(json.dumps(board.as_dict(), indent=2))
        else:
            self.stdout.write(render_table(board))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_table(board: Leaderboard) -> str:
    counted = board.filters["counted"]
    lines = [f"Leaderboard: {counted}; {board.coverage['matches']} finished matches in scope."]
    if not board.rows:
        lines.append(EMPTY_MESSAGE)
    else:
        header = (f"{'#':>3} {'model':<28} {'preds':>6} {'points':>7} {'mean':>6} {'95% CI':>13} {'exact':>6} "
                  f"{'tend.':>6} {'retro excl.':>11}  flag")
        lines += [header, "-" * len(header)]
        for rank, row in enumerate(board.rows, 1):
            low, high = row["ci95"]
            ci = f"{_fmt(low)}..{_fmt(high)}"
            lines.append(
                f"{rank:>3} {row['model']:<28} {row['predictions']:>6} {row['points']:>7} {row['mean_points']:>6.2f} "
                f"{ci:>13} {row['exact']:>6} {row['tendency']:>6} {row['retroactive_excluded']:>11}  "
                f"{'CONTAMINATED?' if row['flagged'] else ''}"
            )
        if not board.filters["include_retroactive"]:
            lines.append(f"{board.coverage['retroactive_excluded']} retroactive predictions left out "
                         "(--include-retroactive counts them).")
    if board.contamination:
        lines.append("")
        lines.append("Contamination check (retroactive > pre-kickoff, one-sided Mann-Whitney, Holm, flag at p < 0.01):")
        for c in board.contamination:
            lines.append(
                f"    {c['model']:<28} pre {c['pre_kickoff']:>5} mean {c['mean_pre']:.2f} | "
                f"retro {c['retroactive']:>5} mean {c['mean_retro']:.2f} | p {c['p_value']:.3g}"
                + ("  FLAGGED" if c["flagged"] else "")
            )
    return "\n".join(lines)
