"""python manage.py backfill_retroactive --days 7: fill every gap of the last N days.

In the style of Django's ``dumpdata``: validators in ``add_arguments`` (``type=``),
BackfillError translated into CommandError in one place, and ``handle`` one of
three short paths: dry run, async, wait. Exit codes are config.commands'.
"""

import argparse
import json
import math
import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from backfill import queueing, service
from backfill.models import BackfillItem, BackfillRun
from config.commands import FAILURES, TIMED_OUT, UNAVAILABLE, USAGE, ProjectCommand

Stage = BackfillItem.Stage
BAR_WIDTH = 28
PLAIN_PROGRESS_EVERY = 10.0


def _days(text: str) -> int:
    try:
        return service.validate_days(text)
    except service.BackfillError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    # Plain ASCII digits, as for --days: int() would also take "1_130" or other scripts' digits.
    if not re.fullmatch(r"\s*-?[0-9]+\s*", text):
        raise argparse.ArgumentTypeError(f"--match must be a match id (a positive integer), got {text!r}")
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--match must be a positive integer, got {value}")
    return value


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timeout must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"--timeout must be a finite number of seconds, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--timeout must be positive, got {text}")
    return value


def _report_path(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"--report must be a file path, {text} is a directory")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"--report: directory {path.parent} does not exist")
    existed = path.exists()
    try:  # a real write probe: permission bits don't tell root, or /proc, the truth
        with path.open("a"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"--report: {path} is not writable ({exc.strerror})") from None
    if not existed:
        path.unlink()
    return path


def _default_report_path() -> Path:
    # Microseconds: two runs started in the same second must not overwrite each other's report.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return settings.BACKFILL_REPORT_DIR / f"backfill-report-{stamp}.json"


@contextmanager
def backfill_errors(returncode: int):
    """The one place a BackfillError becomes a CommandError (Redis unreachable: exit 4)."""
    try:
        yield
    except service.ServiceUnavailable as exc:
        raise CommandError(str(exc), returncode=UNAVAILABLE) from None
    except service.EnqueueFailed as exc:
        raise CommandError(str(exc), returncode=FAILURES) from None
    except service.BackfillError as exc:
        raise CommandError(str(exc), returncode=returncode) from None


def _stage_done(stages: list[str], current: str, stage: str) -> bool:
    if current == Stage.DONE:
        return True
    return current in stages and Stage.rank(current) > Stage.rank(stage)


class Command(ProjectCommand):
    help = "Find matches of the last N days that miss predictions (or settlement) and fill exactly what is missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=_days, default=None,
            help="Window in days, an integer from 1 to 365 (default 7; 365 with --match)",
        )
        parser.add_argument("--match", type=_positive_int, action="append", default=None, dest="matches",
                            metavar="ID", help="Only this match (repeatable)")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan and change nothing")
        parser.add_argument("--async", action="store_true", dest="run_async",
                            help="Enqueue, print the run id and return (needs REDIS_URL)")
        parser.add_argument("--timeout", type=_timeout, default=None,
                            help="Give up waiting after this many seconds (exit 3; the run goes on)")
        parser.add_argument("--json", action="store_true", help="Machine-readable summary on stdout")
        parser.add_argument("--report", type=_report_path, default=None, help="Path of the JSON report "
                            "(default var/reports/backfill-report-<UTC timestamp>.json)")

    def handle(self, *args, **options):
        self.json_mode = options["json"]
        self.verbosity = options["verbosity"]
        # Human output goes to stderr when stdout carries the JSON summary.
        self.out = self.stderr if self.json_mode else self.stdout
        self._check_combinations(options)
        with backfill_errors(USAGE):
            plan = service.plan_backfill(options["days"], match_ids=options["matches"])
        self._print_plan(plan)
        if options["dry_run"]:
            return self._dry_run(plan)
        report_path = options["report"] or _default_report_path()
        with backfill_errors(FAILURES):
            run = service.start_backfill(plan, triggered_by="command")
        if queueing.redis_enabled() and not run.is_finished:
            self._warn_about_workers()
        if options["run_async"]:
            return self._started(run, plan, report_path)
        return self._wait(run, plan, report_path, options["timeout"])

    def _check_combinations(self, options: dict) -> None:
        if options["dry_run"] and (options["run_async"] or options["timeout"] is not None):
            raise CommandError("--dry-run only prints the plan: it takes neither --async nor --timeout",
                               returncode=USAGE)
        if options["run_async"] and options["timeout"] is not None:
            raise CommandError("--async returns at once: --timeout applies only when the command waits",
                               returncode=USAGE)
        if options["run_async"] and not queueing.redis_enabled():
            raise CommandError("--async needs REDIS_URL; without it the run is in-process: drop --async",
                               returncode=USAGE)

    def _dry_run(self, plan: service.BackfillPlan) -> None:
        if self.json_mode:
            self.stdout.write(json.dumps({"dry_run": True, "plan": plan.as_dict()}, indent=2))
        self.out.write("nothing was changed")

    def _started(self, run: BackfillRun, plan: service.BackfillPlan, report_path: Path) -> None:
        self._write_report(report_path, plan, service.summarize_run(run))
        if self.json_mode:
            self.stdout.write(json.dumps({"run_id": run.pk, "status": run.status}, indent=2))
        else:
            self.stdout.write(f"Backfill run {run.pk} started ({run.status}); follow it in the admin.")

    def _wait(self, run: BackfillRun, plan: service.BackfillPlan, report_path: Path, timeout: float | None) -> None:
        on_progress = self._progress_printer() if self.verbosity >= 1 else None
        finished = service.wait_for_run(run, timeout=timeout, on_progress=on_progress)
        summary = service.summarize_run(run)
        summary["timed_out"] = not finished
        self._print_summary(summary)
        self._write_report(report_path, plan, summary)
        if self.json_mode:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
        if not finished:
            raise CommandError(
                f"timed out after {timeout:g}s; run {run.pk} goes on in the background: follow it in the admin",
                returncode=TIMED_OUT,
            )
        if run.status != BackfillRun.Status.SUCCEEDED:
            raise CommandError(f"{len(summary['errors'])} match(es) failed in run {run.pk}; see the errors above, "
                               "then run the backfill again", returncode=FAILURES)

    def _warn_about_workers(self) -> None:
        hint = "python manage.py rqworker default backfill --with-scheduler"
        if not queueing.workers_serving():
            self.stderr.write(f"warning: no RQ worker serves the 'backfill' queue; jobs wait until one starts: {hint}")
        elif not queueing.scheduler_running():
            self.stderr.write(f"warning: no worker runs --with-scheduler; retries after a failure will wait: {hint}")

    # --- output ------------------------------------------------------------------------------
    def _print_plan(self, plan: service.BackfillPlan) -> None:
        if self.verbosity < 1:
            return
        w = self.out.write
        labels = service.match_labels([g.match_id for g in plan.gaps] + [s.match_id for s in plan.skipped])
        w(f"Window: {plan.window_start:%Y-%m-%d %H:%M} to {plan.window_end:%Y-%m-%d %H:%M} UTC "
          f"({plan.days} days); active models: {plan.active_models}")
        if plan.active_models == 0:
            w("No active prediction models: run `python manage.py sync_models` first.")
        for status, gaps in plan.gaps_by_status().items():
            w(f"{status}: {len(gaps)} match(es) with gaps")
            for g in gaps:
                w(f"  {labels[g.match_id]}: {g.prediction_count}/{plan.active_models} predictions, "
                  f"needs {' -> '.join(g.stages)}")
        w(f"skipped: {len(plan.skipped)}")
        for s in plan.skipped:
            w(f"  {labels[s.match_id]} ({s.status}): {s.reason}")
        e = plan.estimate
        w(f"cost: {e['analyses']} analyses, {e['predictions']} predictions, {e['settlements']} settlements, "
          f"up to {e['api_football_requests_max']} API-Football requests, {e['llm_calls']} LLM calls")

    def _progress_printer(self):
        tty = self.out.isatty()
        last = {"t": 0.0, "line": ""}

        def show(run: BackfillRun) -> None:
            items = list(run.items.values_list("stages", "stage", "status"))
            if not items:
                return
            parts = []
            for stage in Stage.ORDER:
                total = sum(stage in stages for stages, _, _ in items)
                if total:
                    done = sum(stage in stages and _stage_done(stages, cur, stage) for stages, cur, _ in items)
                    parts.append((stage, done, total))
            failed = sum(status == BackfillItem.Status.FAILED for _, _, status in items)
            if tty:
                bars = "  ".join(
                    f"{s:<7} [{'#' * (BAR_WIDTH * d // t):<{BAR_WIDTH}}] {d}/{t}" for s, d, t in parts
                )
                self.out.write(f"\r{bars}  failed {failed}", ending="")
                self.out.flush()
                if run.is_finished:
                    self.out.write("")
            else:
                line = ", ".join(f"{s} {d}/{t}" for s, d, t in parts) + f", failed {failed}"
                now = time.monotonic()
                if line != last["line"] and (now - last["t"] >= PLAIN_PROGRESS_EVERY or run.is_finished):
                    self.out.write(f"progress: {line}")
                    last.update(t=now, line=line)

        return show

    def _print_summary(self, summary: dict) -> None:
        if self.verbosity < 1:
            return
        w = self.out.write
        w(f"Run {summary['run_id']}: {summary['status']}")
        w(f"  matches found:        {summary['matches_found']}")
        w(f"  analyses created:     {summary['analyses_created']}")
        w(f"  predictions created:  {summary['predictions_created']}")
        w(f"  settlements:          {summary['settlements']}")
        w(f"  already in flight:    {summary['already_in_flight']}")
        w(f"  skipped:              {len(summary['skipped'])}")
        w(f"  errors:               {len(summary['errors'])}")
        for err in summary["errors"]:
            w(f"    match {err['match_id']} ({err['match']}) at {err['stage']}: {err['reason']}")

    def _write_report(self, path: Path, plan: service.BackfillPlan, summary: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"plan": plan.as_dict(), "summary": summary}, indent=2, default=str))
        if self.verbosity >= 1:
            self.out.write(f"report: {path}")
