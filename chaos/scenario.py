"""The chaos demo: a replayed matchday through the live pipeline while things break, then the backfill.

Three kinds of damage, each aimed at one kickoff group of the replayed matchday:

- a worker is killed in the middle of the first match's prediction job (it waits for an LLM);
- the replay's result source (API-Football's stand-in) is down across the final whistles of the
  biggest group, so their results arrive late;
- one LLM model (``chaos-llm-flaky``, on a fake LLM server on 127.0.0.1 started here) answers
  HTTP 500 while another group is predicted (fewer matches than the circuit breaker's threshold).

The pipeline never predicts at or after kickoff, so what it missed stays missing. The demo then
plans the backfill in the replayed clock (``find_gaps`` sees the replayed fixtures), runs it with
that clock as the writer's clock, and measures: every gap filled, the filled predictions flagged
retroactive, no prediction twice. The fake LLM server is the tests' (tests/fakes/fake_llm.py).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from backfill import service as backfill
from backfill.demo import activate_local_lineup
from backfill.services.plan import MAX_DAYS
from chaos import measure
from chaos.runners import ChaosFailed, InProcessRunner, WorkerRunner, runner
from matches.models import Match
from matches.openfootball import SEASONS, load_season
from pipeline import replay, selectors
from pipeline.models import ReplayOutage
from pipeline.service import tick
from predictions import inflight
from predictions.models import PredictionModel

LEAGUE = "en.1"
ROUND = "Matchday 13"  # Friday night, then Saturday and Sunday: damage can hit one group at a time
STEP = timedelta(minutes=10)
RESTART_AFTER_KICKOFF = timedelta(minutes=10)
STEADY, FLAKY = "chaos-llm-steady", "chaos-llm-flaky"
BACKFILL_TIMEOUT = 300.0


@dataclass(frozen=True)
class Schedule:
    victims: tuple[int, ...]  # the first kickoff group: its prediction job is the one killed
    victim_kickoff: datetime
    outage: tuple[datetime, datetime]
    llm_down: tuple[datetime, datetime]

    def as_dict(self) -> dict:
        return {"victims": list(self.victims), "victim_kickoff": self.victim_kickoff.isoformat(),
                "source_down": [t.isoformat() for t in self.outage],
                "llm_down": [t.isoformat() for t in self.llm_down]}


@dataclass
class Outcome:
    mode: str
    replay: dict
    schedule: dict
    chaos: dict = field(default_factory=dict)
    pipeline: dict = field(default_factory=dict)
    gaps_before: dict = field(default_factory=dict)
    backfill: dict = field(default_factory=dict)
    gaps_after: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "mode": self.mode, "replay": self.replay, "schedule": self.schedule,
                "chaos": self.chaos, "pipeline": self.pipeline, "gaps_before": self.gaps_before,
                "backfill": self.backfill, "gaps_after": self.gaps_after, "predictions": self.predictions,
                "filled": self.backfill.get("filled", 0), "pre_kickoff": self.predictions.get("pre_kickoff", 0),
                "retroactive": self.predictions.get("retroactive", 0),
                "duplicates": self.predictions.get("duplicates", 0), "problems": self.problems}


def check_round(round: str) -> None:
    """ValueError (bad usage, nothing changed) unless ``round`` is a played round with 3 kickoff times."""
    source = load_season(LEAGUE, SEASONS[-1])
    kickoffs = {m.kickoff_time for m in source.matches if m.round == round and m.home_goals is not None}
    if not kickoffs:
        raise ValueError(f"{LEAGUE} {SEASONS[-1]} has no played round {round!r}")
    if len(kickoffs) < 3:
        raise ValueError(f"{round} has {len(kickoffs)} kickoff time(s); the chaos demo needs 3 or more "
                         f"(e.g. {ROUND!r})")


def plan_schedule(plan: replay.ReplayPlan) -> Schedule:
    groups: dict[datetime, list[int]] = {}
    for pk, kickoff in Match.objects.filter(pk__in=plan.match_ids).order_by("kickoff_time", "pk").values_list(
            "pk", "kickoff_time"):
        groups.setdefault(kickoff, []).append(pk)
    kickoffs = sorted(groups)
    if len(kickoffs) < 3:
        raise ChaosFailed(f"{plan.round} has {len(kickoffs)} kickoff time(s); the demo needs 3 (choose another)")
    first, rest = kickoffs[0], kickoffs[1:]
    biggest = max(rest, key=lambda k: (len(groups[k]), -k.timestamp()))
    # The pipeline asks again every tick until kickoff; a model failing fewer times than the breaker's
    # threshold stays on, so its gaps are the backfill's to fill (not a switched-off model's to forget).
    attempts = math.ceil(settings.PREDICTION_LEAD / STEP)
    small = [k for k in rest if k != biggest and len(groups[k]) * attempts < settings.MODEL_FAILURE_THRESHOLD]
    if not small:
        raise ChaosFailed(f"{plan.round} has no kickoff group small enough for MODEL_FAILURE_THRESHOLD")
    llm_kickoff = max(small, key=lambda k: (len(groups[k]), k.timestamp()))
    return Schedule(
        victims=tuple(groups[first]), victim_kickoff=first,
        outage=(biggest + timedelta(minutes=100), biggest + timedelta(hours=4)),
        llm_down=(llm_kickoff - settings.PREDICTION_LEAD - STEP, llm_kickoff),
    )


def _lineup(llm_url: str) -> list[str]:
    """The local statistical models and the two fake-LLM models, all on with a fresh breaker."""
    activate_local_lineup()
    for slug in (STEADY, FLAKY):
        PredictionModel.objects.update_or_create(slug=slug, defaults={
            "name": f"Chaos demo LLM ({slug.removeprefix('chaos-llm-')})", "provider": "openai_compatible",
            "config": {"model": slug, "base_url": llm_url, "api_key_optional": True, "timeout": 30,
                       "max_retries": 0},
            "is_active": True, "inactive_reason": "", "consecutive_failures": 0, "disabled_at": None,
        })
    return list(PredictionModel.objects.filter(is_active=True).order_by("pk").values_list("slug", flat=True))


def _retire_lineup() -> None:
    """The fake LLM runs only while the demo does: its models must not become gaps of later runs."""
    PredictionModel.objects.filter(slug__in=(STEADY, FLAKY)).update(
        is_active=False, inactive_reason="chaos demo: its fake LLM server runs only during the demo"
    )


def _kill(run, llm, clock: datetime, victim: int) -> dict:
    """Kill the worker (or runner) while the victim's prediction job waits for the steady LLM."""
    job_id = inflight.live_job_id("predict", victim)
    before = llm.count(STEADY)
    llm.configure(STEADY, latency=600.0)  # the job hangs in its LLM call until it is killed
    try:
        if isinstance(run, WorkerRunner):
            tick(now=clock)
        killed = run.kill_during(clock, lambda: llm.count(STEADY) > before, job_id)
    finally:
        llm.configure(STEADY, latency=0.0)
    return {**killed, "job": job_id, "match_id": victim, "at": clock.isoformat()}


def _drive(plan: replay.ReplayPlan, schedule: Schedule, run, llm) -> tuple[dict, dict, datetime]:
    """Tick through the replayed matchday, doing the damage on the way; (chaos, pipeline stats, end)."""
    from tests.fakes.fake_llm import computed, server_error

    clock, chaos, ticks, unavailable = plan.start, {}, 0, 0
    victim = schedule.victims[0]
    while True:
        down = schedule.llm_down[0] <= clock < schedule.llm_down[1]
        llm.configure(FLAKY, default=server_error() if down else computed())
        if "worker_killed" not in chaos and victim in {m.pk for m in selectors.due_for_prediction(clock)}:
            chaos["worker_killed"] = _kill(run, llm, clock, victim)
            if isinstance(run, InProcessRunner):
                # The runner comes back only after the victim's kickoff (a supervisor's late restart).
                clock = schedule.victim_kickoff + RESTART_AFTER_KICKOFF
                chaos["worker_killed"]["pipeline_back_at"] = clock.isoformat()
            run.settle()
            continue
        report = tick(now=clock)
        run.settle()
        ticks += 1
        unavailable += any("replay's result source is down" in u for u in report.unavailable)
        if clock > plan.ends_at and replay.finished(plan):
            break
        if clock > plan.ends_at + replay.GRACE:
            break
        clock += STEP
    chaos["source_down"] = {"from": schedule.outage[0].isoformat(), "to": schedule.outage[1].isoformat(),
                            "ticks_unavailable": unavailable,
                            "results_held_back": measure.results_held_back(plan, schedule.outage)}
    chaos["llm_failed"] = {"model": FLAKY, "from": schedule.llm_down[0].isoformat(),
                           "to": schedule.llm_down[1].isoformat(), "requests_failed": llm.failed(FLAKY),
                           "still_active": PredictionModel.objects.get(slug=FLAKY).is_active}
    return chaos, {"ticks": ticks, "step_minutes": STEP.total_seconds() / 60, "end": clock.isoformat(),
                   "all_finished": replay.finished(plan)}, clock


def _backfill(plan: replay.ReplayPlan, end: datetime) -> tuple[backfill.BackfillPlan, dict]:
    days = min(MAX_DAYS, math.ceil((end - plan.start) / timedelta(days=1)) + 1)
    before = backfill.plan_backfill(days, match_ids=plan.match_ids, clock=end)
    run = backfill.start_backfill(before, triggered_by="chaos-demo")
    finished = True
    if not run.is_finished:
        finished = backfill.wait_for_run(run, timeout=BACKFILL_TIMEOUT)
    run.refresh_from_db()
    return before, {"run_id": run.pk, "status": run.status, "finished": finished, "days": days,
                    "clock": end.isoformat()}


def run_chaos(*, round: str = ROUND, now: datetime | None = None) -> Outcome:
    """Replay ``round`` through the pipeline with the damage above, then backfill; measure everything."""
    from chaos.fake_llm import ChaosLLM

    check_round(round)
    start = (now or timezone.now()).replace(second=0, microsecond=0)
    ReplayOutage.objects.all().delete()
    plan = replay.start_replay(now=start, league=LEAGUE, season=SEASONS[-1], round=round)
    schedule = plan_schedule(plan)
    ReplayOutage.objects.create(starts_at=schedule.outage[0], ends_at=schedule.outage[1],
                                reason="chaos demo: the result source is down")
    run = runner()
    outcome = Outcome(mode=run.mode, replay=plan.as_dict(), schedule=schedule.as_dict())
    with ChaosLLM() as llm:
        outcome.pipeline["models"] = _lineup(llm.base_url)
        run.start()
        try:
            outcome.chaos, stats, end = _drive(plan, schedule, run, llm)
            outcome.pipeline.update(stats, predictions=measure.prediction_counts(plan.match_ids))
            killed = outcome.chaos["worker_killed"]["job"]
            run.release(killed)
            before, outcome.backfill = _backfill(plan, end)
            outcome.gaps_before = measure.gaps(before)
            outcome.gaps_after = measure.gaps(backfill.plan_backfill(before.days, match_ids=plan.match_ids,
                                                                     clock=end))
            outcome.predictions = measure.prediction_counts(plan.match_ids)
            outcome.backfill["filled"] = (outcome.predictions["retroactive"]
                                          - outcome.pipeline["predictions"]["retroactive"])
        finally:
            run.stop()
            _retire_lineup()
            ReplayOutage.objects.all().delete()
    outcome.problems = measure.problems(outcome, plan)
    return outcome
