"""``python manage.py sync_models [--file PATH] [--json]``: load the lineup file into PredictionModel rows."""

import json

from config.commands import ProjectCommand, usage_error
from predictions.services.lineup import DEFAULT_LINEUP_PATH, LineupError, sync_lineup


class Command(ProjectCommand):
    help = "Upsert the prediction-model lineup from a TOML file; idempotent, writes nothing if the file is invalid."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", default=str(DEFAULT_LINEUP_PATH), help="lineup file (default: %(default)s)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options) -> None:
        try:
            result = sync_lineup(options["file"])
        except LineupError as exc:
            problems = "\n".join(f"  - {error}" for error in exc.errors)
            raise usage_error(
                f"{exc.path}: invalid lineup, nothing was changed. Fix these and re-run:\n{problems}"
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, sort_keys=True))
            return
        if not result.changed:
            self.stdout.write(f"Nothing changed: the database already matches {result.path}.")
        for slug in result.created:
            self.stdout.write(f"created      {slug}")
        for slug, fields in result.updated.items():
            self.stdout.write(f"updated      {slug} ({', '.join(fields)})")
        for slug in result.activated:
            self.stdout.write(f"activated    {slug}")
        for slug, reason in result.deactivated.items():
            self.stdout.write(f"deactivated  {slug}: {reason}")
        for slug, reason in result.inactive.items():
            if slug not in result.deactivated:
                self.stdout.write(f"inactive     {slug}: {reason}")
        self.stdout.write(
            self.style.SUCCESS(f"{result.active_count} active of {result.total} models (the gap threshold).")
        )
