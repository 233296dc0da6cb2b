"""Run the live pipeline: a tick every PIPELINE_LOOP_SECONDS, one tick (--once), or a replayed matchday."""

import json
import signal
import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from config.commands import FAILURES, UNAVAILABLE, USAGE, ProjectCommand
from pipeline import replay
from pipeline.service import TickReport, tick


def _positive(value: str, option: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise CommandError(f"{option} must be a positive number, got {value!r}", returncode=USAGE)
    return number


class Command(ProjectCommand):
    help = "Run the live pipeline's ticks (fixture sync, analysis, predictions before kickoff, live scores)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--json", action="store_true", help="print each tick's report as one JSON line")
        parser.add_argument("--every", help="seconds between ticks (default PIPELINE_LOOP_SECONDS; replay: 1)")
        parser.add_argument("--replay", action="store_true",
                            help="replay a real matchday from the vendored openfootball data on a fast clock")
        parser.add_argument("--speed", default="600", help="replay: replayed seconds per real second (default 600)")
        parser.add_argument("--league", default="en.1", help="replay: openfootball league code (default en.1)")
        parser.add_argument("--season", default=replay.SEASONS[-1], help="replay: season, e.g. 2024-25")
        parser.add_argument("--round", help="replay: round name, e.g. 'Matchday 38' (default: the most compact)")

    def handle(self, *args, **options) -> None:
        self.json = options["json"]
        self.stop = threading.Event()
        every = _positive(options["every"], "--every") if options["every"] else None
        previous = {sig: signal.signal(sig, self._ask_to_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if options["replay"]:
                failed = self._replay(options, every or 1.0)
            else:
                failed = self._loop(options["once"], every or settings.PIPELINE_LOOP_SECONDS)
        except (DatabaseError, RedisError) as exc:
            raise CommandError(f"a service is unavailable ({exc.__class__.__name__}: {exc}); start it and rerun",
                               returncode=UNAVAILABLE) from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            raise CommandError(failed[0], returncode=failed[1])

    def _ask_to_stop(self, signum, frame) -> None:
        """Ctrl-C or SIGTERM: finish the tick under way, then stop (no half-written step)."""
        self.stop.set()
        self.stderr.write("stopping after this tick")

    def _print(self, report: TickReport) -> None:
        self.stdout.write(json.dumps(report.to_dict()) if self.json else report.summary())

    def _verdict(self, report: TickReport) -> tuple[str, int] | None:
        if report.unavailable:
            return f"tick at {report.now.isoformat()}: {report.unavailable[0]}", UNAVAILABLE
        if report.errors:
            return f"tick at {report.now.isoformat()} finished with {len(report.errors)} failure(s): " \
                   f"{report.errors[0]}", FAILURES
        return None

    def _loop(self, once: bool, every: float) -> tuple[str, int] | None:
        while True:
            report = tick()
            self._print(report)
            if once:
                return self._verdict(report)
            if self.stop.wait(every):
                return None

    def _replay(self, options: dict, every: float) -> tuple[str, int] | None:
        speed = _positive(options["speed"], "--speed")
        step = timedelta(seconds=speed * every)
        if step >= settings.PREDICTION_LEAD:
            raise CommandError(f"--speed {speed:g} x --every {every:g} s advances {step} a tick, not less than "
                               f"PREDICTION_LEAD ({settings.PREDICTION_LEAD}): predictions would be missed; "
                               "lower --speed", returncode=USAGE)
        try:
            plan = replay.start_replay(now=timezone.now(), league=options["league"], season=options["season"],
                                       round=options["round"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=USAGE) from None
        self.stderr.write(f"replaying {plan.league} {plan.season} {plan.round}: {len(plan.match_ids)} matches, "
                          f"replayed clock from {plan.start:%Y-%m-%d %H:%M} to {plan.ends_at:%Y-%m-%d %H:%M} UTC")
        clock, failures = plan.start, 0
        while not self.stop.is_set():
            report = tick(now=clock)
            self._print(report)
            failures += bool(report.errors or report.unavailable)
            if clock > plan.ends_at and replay.finished(plan):
                break
            if clock > plan.ends_at + replay.GRACE:
                break  # e.g. no worker serves the queue: the jobs never ran
            clock += step
            self.stop.wait(every)
        if not replay.finished(plan):
            return "the replay stopped before every match was settled", FAILURES
        text = replay.describe(plan)
        self.stdout.write(json.dumps({"replay": plan.as_dict(), "summary": text}) if self.json else text)
        return None if not failures else (f"{failures} tick(s) of the replay had failures (see the reports)", FAILURES)
