"""Walk a vendored season forward and print how each local model would have scored."""

import json

from django.core.management.base import CommandError, CommandParser

from config.commands import ProjectCommand, usage_error
from matches.openfootball import LEAGUES, SEASONS
from predictions.services.evaluation import DEFAULT_LINEUP, VARIANTS, EvaluationError, EvaluationReport, evaluate


class Command(ProjectCommand):
    help = (
        "Evaluate the local statistical models on a vendored openfootball season, each match predicted only "
        "from matches before its kickoff. Reads the vendored files; needs no database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--league", default="en.1", help=f"league code: {', '.join(sorted(LEAGUES))}")
        parser.add_argument("--season", default="2024-25", help=f"season: {', '.join(SEASONS)}")
        parser.add_argument("--limit", type=int, default=None, help="only the first N matches (quick checks)")
        parser.add_argument(
            "--variants",
            action="store_true",
            help="also score the tip-strategy variants (typical-field quotas, likeliest score) against the field",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, league: str, season: str, limit: int | None, variants: bool, json: bool, **options) -> None:
        lineup = DEFAULT_LINEUP + VARIANTS if variants else DEFAULT_LINEUP
        try:
            report = evaluate(league=league, season=season, limit=limit, lineup=lineup)
        except EvaluationError as exc:
            raise usage_error(f"{exc}. Example: --league en.1 --season 2024-25") from None
        if json:
            self.stdout.write(_json_dumps(report))
        else:
            self.stdout.write(render_table(report))
        failing = [s.slug for s in report.scores if s.failed == s.matches]
        if failing:
            raise CommandError(f"no tips at all from {', '.join(failing)}; see first_failure in --json")


def _json_dumps(report: EvaluationReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


def render_table(report: EvaluationReport) -> str:
    header = (
        f"{'model':<24} {'tips H/D/A':>12} {'tendency':>9} {'exact':>6} {'quota pts/m':>12} {'2/3/4 pts/m':>12}"
        f" {'failed':>7}"
    )
    lines = [
        f"{report.league} {report.season}: {report.matches} matches, walk-forward (warm-up: {report.warm_up})",
        f"unscored: {report.unscored} match(es) of the season have no result upstream and are not evaluated",
        header,
        "-" * len(header),
    ]
    for s in report.scores:
        split = "/".join(str(s.tips_by_tendency[t]) for t in ("home", "draw", "away"))
        name = s.slug if s.in_field else f"{s.slug} *"
        lines.append(
            f"{name:<24} {split:>12} {s.tendency_accuracy:>8.1%} {s.exact_hits:>6} "
            f"{s.quota_points_per_match:>12.3f} {s.kicktipp_points_per_match:>12.3f} {s.failed:>7}"
        )
    if any(not s.in_field for s in report.scores):
        lines.append("* scored against the field's quotas without joining the field")
    return "\n".join(lines)
