"""``python manage.py backfill_status [RUN_ID] [--follow] [--json]``: a run's progress, or the latest runs.

Read-only. Exit 0 when the run succeeded or is still going (without --follow), 1 when it finished with
failures or was canceled, 2 for a bad RUN_ID, 3 when --follow gave up at --timeout, 4 without a database.
"""

import json
import time

from django.core.management.base import CommandError, CommandParser

from backfill.models import BackfillRun
from backfill.status import RunProgress, latest_runs, run_progress
from config import exit_codes
from config.commands import ProjectCommand, usage_error

ITEM_LINES = 50


class Command(ProjectCommand):
    help = "Show a backfill run's progress (or the latest runs), in text or JSON; --follow until it ends."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", nargs="?", help="the run (default: list the latest runs)")
        parser.add_argument("--follow", action="store_true", help="refresh until the run ends (Ctrl-C stops)")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
        parser.add_argument("--timeout", type=float, default=None, help="with --follow: give up after N seconds")
        parser.add_argument("--limit", type=int, default=10, help="runs listed without RUN_ID (default 10)")
        parser.add_argument("--json", action="store_true", help="one JSON document (a line per refresh with --follow)")

    def handle(self, *args, **options) -> None:
        if options["interval"] <= 0 or (options["timeout"] is not None and options["timeout"] <= 0):
            raise usage_error("--interval and --timeout take a positive number of seconds, e.g. --interval 2")
        if options["run_id"] is None:
            if options["follow"]:
                raise usage_error("--follow needs a RUN_ID: backfill_status 12 --follow")
            self._list(limit=options["limit"], as_json=options["json"])
            return
        run = self._run(options["run_id"])
        if options["follow"]:
            self._follow(run, options)
            return
        progress = run_progress(run, item_limit=None if options["json"] else ITEM_LINES)
        self._show(progress, as_json=options["json"])
        self._exit_for(progress)

    def _run(self, run_id: str) -> BackfillRun:
        if not run_id.isascii() or not run_id.isdigit():
            raise usage_error(f"RUN_ID {run_id!r} is not a run id (a positive integer); list runs: backfill_status")
        run = BackfillRun.objects.filter(pk=int(run_id)).first()
        if run is None:
            raise usage_error(f"no backfill run {run_id}; list the latest runs with: backfill_status")
        return run

    def _follow(self, run: BackfillRun, options: dict) -> None:
        started = time.monotonic()
        try:
            while True:
                run.refresh_from_db()
                progress = run_progress(run, item_limit=None if options["json"] else 0)
                self._show(progress, as_json=options["json"], compact=True)
                if progress.finished:
                    self._exit_for(progress)
                    return
                if options["timeout"] is not None and time.monotonic() - started >= options["timeout"]:
                    raise CommandError(
                        f"run {run.pk} is still {run.status} after {options['timeout']:g} s; "
                        f"follow it again with: backfill_status {run.pk} --follow",
                        returncode=exit_codes.TIMED_OUT,
                    )
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            self.stderr.write(f"stopped following run {run.pk} (the run goes on)")

    def _exit_for(self, progress: RunProgress) -> None:
        if progress.status in (BackfillRun.Status.FAILED, BackfillRun.Status.CANCELED):
            failed = progress.by_status["failed"] + progress.by_status["canceled"]
            raise CommandError(
                f"run {progress.run_id} {progress.status}: {failed} item(s) failed or canceled; "
                f"retry with the admin's \"Retry failed items\" or backfill_retroactive",
                returncode=exit_codes.FAILURES,
            )

    def _show(self, progress: RunProgress, *, as_json: bool, compact: bool = False) -> None:
        if as_json:
            self.stdout.write(json.dumps(progress.as_dict(), separators=(",", ":") if compact else None))
            return
        counts = " · ".join(f"{status} {n}" for status, n in progress.by_status.items() if n)
        self.stdout.write(
            f"Run {progress.run_id} ({progress.triggered_by}, {progress.created_at[:16]}): {progress.status}, "
            f"{progress.done}/{progress.total} items done" + (f" [{counts}]" if counts else "")
            + (f", {progress.skipped} skipped" if progress.skipped else "")
        )
        for item in progress.items:
            line = (f"  {item['match_id']:>6}  {item['match']}  {item['kickoff'][:16]}  {item['competition']}  "
                    f"{item['stage']} {item['status']}")
            self.stdout.write(line + (f"  {item['error']}" if item["error"] else ""))
        if not compact and progress.total > len(progress.items):
            self.stdout.write(f"  ... and {progress.total - len(progress.items)} more (all of them: --json)")

    def _list(self, *, limit: int, as_json: bool) -> None:
        if limit < 1:
            raise usage_error("--limit takes a positive number, e.g. --limit 10")
        runs = latest_runs(limit=limit)
        if as_json:
            self.stdout.write(json.dumps({"runs": [r.as_dict() for r in runs]}))
            return
        if not runs:
            self.stdout.write("No backfill runs yet: start one with backfill_retroactive or the admin.")
        for progress in runs:
            self._show(progress, as_json=False, compact=True)
