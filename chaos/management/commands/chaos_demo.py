"""The chaos demo: a replayed matchday through the pipeline while a worker dies, the result source is down
and an LLM fails; then the gaps, the backfill, and the gaps filled (scripts/demo --chaos)."""

import argparse
import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from redis.exceptions import RedisError

from backfill.demo import foreign_matches
from chaos import scenario
from chaos.runners import ChaosFailed
from pipeline.service import tick


def _text(outcome: scenario.Outcome) -> list[str]:
    replay, chaos, before, after = outcome.replay, outcome.chaos, outcome.gaps_before, outcome.gaps_after
    killed, down, llm = chaos["worker_killed"], chaos["source_down"], chaos["llm_failed"]
    counts, live = outcome.predictions, outcome.pipeline["predictions"]
    lines = [
        f"chaos demo ({outcome.mode}): {replay['league']} {replay['season']} {replay['round']}, "
        f"{len(replay['match_ids'])} matches, {outcome.pipeline['ticks']} ticks of "
        f"{outcome.pipeline['step_minutes']:g} replayed minutes; models: {', '.join(outcome.pipeline['models'])}",
        f"- worker killed: {killed['process']} pid {killed['pid']} ({killed['signal']}) in the middle of "
        f"{killed['job']} at {killed['at']}",
        f"- result source down {down['from']} to {down['to']}: {down['ticks_unavailable']} tick(s) saw it "
        f"unavailable, {down['results_held_back']} result(s) arrived late and were settled by the pipeline itself",
        f"- {llm['model']} failed {llm['requests_failed']} request(s) from {llm['from']} to {llm['to']} "
        f"(still active: {llm['still_active']})",
        f"pipeline: {live['pre_kickoff']} predictions made before kickoff, {live['retroactive']} retroactive",
        f"gaps before the backfill: {before['matches']} match(es), {before['missing_predictions']} missing "
        f"prediction(s), {before['settlements']} settlement(s)",
        *(f"  match {g['match_id']} {g['match']}: missing {', '.join(g['missing_models'])} "
          f"-> {'+'.join(g['stages'])}" for g in before["by_match"]),
        f"backfill run {outcome.backfill['run_id']}: {outcome.backfill['status']}, filled "
        f"{outcome.backfill['filled']} prediction(s), all flagged retroactive",
        f"gaps after: {after['matches']} match(es), {after['missing_predictions']} missing prediction(s)",
        f"predictions: {counts['total']} ({counts['pre_kickoff']} before kickoff, {counts['retroactive']} "
        f"retroactive, counted apart), {counts['scored']} scored, {counts['duplicates']} duplicates, "
        f"{counts['misflagged']} misflagged",
    ]
    return lines


class Command(BaseCommand):
    help = ("Replay a matchday through the live pipeline while a worker is killed, the result source is down "
            "and an LLM fails; show the gaps, run the backfill, show them filled. Exit 1 if any is left.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
        parser.add_argument("--round", default=scenario.ROUND, help=f"en.1 2024-25 round (default {scenario.ROUND})")
        parser.add_argument("--force", action="store_true",
                            help="run on a database holding fixtures synced from API-Football")
        # Internal: the runner subprocess the demo kills in the embedded default (one tick at a replayed time).
        parser.add_argument("--tick-at", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        try:
            if options["tick_at"]:
                tick(now=datetime.fromisoformat(options["tick_at"]))
                return
            if not options["force"] and (foreign := foreign_matches()):
                raise CommandError(f"the database holds {foreign} fixture(s) synced from API-Football; the chaos "
                                   "demo switches the lineup to its own models: run it on a demo database "
                                   "(scripts/demo --chaos) or pass --force", returncode=2)
            outcome = scenario.run_chaos(round=options["round"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except ChaosFailed as exc:
            raise CommandError(f"chaos demo: {exc}", returncode=1) from None
        except (DatabaseError, RedisError) as exc:
            raise CommandError(f"a service is unavailable ({exc.__class__.__name__}: {exc}); start it and rerun",
                               returncode=4) from None
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict()))
        else:
            for line in _text(outcome):
                self.stdout.write(line)
        if not outcome.ok:
            raise CommandError("chaos demo failed: " + "; ".join(outcome.problems), returncode=1)
        if not options["json"]:
            self.stdout.write("every gap filled, none duplicated")
