"""``python manage.py check_match_summary [--repair] [--json]``: is each match row's prediction summary true?"""

import json

from django.core.management.base import CommandError

from config.commands import FAILURES, ProjectCommand
from predictions.services.match_summary import check_summary, repair_summary


class Command(ProjectCommand):
    help = (
        "Compare each match row's prediction summary (unsettled_predictions, predicted_model_bits; kept by "
        "PostgreSQL triggers, read by the gap query) with its predictions. Exit 1 if any differ; --repair "
        "recounts them (writers wait meanwhile)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true", help="recount every match's summary")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options) -> None:
        check = check_summary()
        repaired = repair_summary() if options["repair"] and check.drifted else 0
        if options["json"]:
            self.stdout.write(json.dumps({**check.as_dict(), "repaired": repaired}, indent=2))
        elif not check.supported:
            self.stdout.write("No match summary on this database (SQLite): its gap query reads the predictions.")
        elif not check.drifted:
            self.stdout.write(self.style.SUCCESS("Every match row's prediction summary is true."))
        else:
            for pk, n, bits, true_n, true_bits in check.examples:
                self.stdout.write(f"match {pk}: unsettled {n} (true {true_n}), bits {bits:#x} (true {true_bits:#x})")
            if repaired:
                self.stdout.write(self.style.SUCCESS(f"Repaired {repaired} match row(s) of {check.drifted} drifted."))
        if check.drifted and not options["repair"]:
            raise CommandError(
                f"{check.drifted} match row(s) have a wrong prediction summary; the gap query may miss them. "
                "Run check_match_summary --repair.",
                returncode=FAILURES,
            )
