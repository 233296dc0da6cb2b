"""python manage.py backfill_work RUN_ID: run an in-process run's open items in this process.

The admin starts it detached for the embedded default (so no run happens inside a
request) and again to resume an interrupted run; it can also be typed by hand
to resume one. Exit 0 when the run ends without failures, 1 otherwise.
"""

import argparse
import re

from django.core.management.base import CommandError

from backfill import queueing
from backfill.models import BackfillRun
from backfill.services.worker import run_open_items
from config.commands import FAILURES, USAGE, ProjectCommand


def _run_id(text: str) -> int:
    if not re.fullmatch(r"\s*[0-9]+\s*", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"RUN_ID must be a run id (a positive integer), got {text!r}")
    return int(text)


class Command(ProjectCommand):
    help = "Run the open items of an in-process backfill run in this process (the admin starts this)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=_run_id, metavar="RUN_ID")

    def handle(self, *args, run_id: int, **options) -> None:
        if queueing.redis_enabled():
            raise CommandError("REDIS_URL is set: runs go through RQ workers; unset it to run in-process",
                               returncode=USAGE)
        run = BackfillRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no backfill run {run_id}; list them in the admin", returncode=USAGE)
        if run.status != BackfillRun.Status.RUNNING:
            raise CommandError(f"run {run_id} is {run.status}, there is nothing to run", returncode=USAGE)
        run = run_open_items(run_id=run_id)
        self.stdout.write(f"run {run_id}: {run.get_status_display().lower()}")
        if run.status != BackfillRun.Status.SUCCEEDED:
            raise CommandError(f"run {run_id} ended {run.status}; see its page in the admin", returncode=FAILURES)
