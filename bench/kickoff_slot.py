"""Benchmark: one busy kickoff slot on the live pipeline (40 matches at the same minute x 42 LLM models).

The fake LLM answers each request after a lognormal latency (median 8 s, sigma 0.7, clipped to
1..60 s), at most 2 requests per model at once (more wait in line). Draws are seeded per (model,
request number), so the bound the per-model concurrency allows is computed exactly: per model, its
N latencies shared by 2 slots can take no less than max(sum / 2, longest); the slot's bound is the
worst model's. Time is scaled by ``scale`` (0.1: latencies and PREDICTION_LEAD divided by 10) so a
run takes seconds, not minutes; the figures are printed measured and at full scale.

The analyses are made first (a tick at kickoff - ANALYSIS_LEAD, untimed). Then the slot is moved to
kick off one PREDICTION_LEAD from now (to the second below), and the clock starts at a tick on the real
clock, at ``now = kickoff - PREDICTION_LEAD`` (within that second). The writers' clock decides whether a
prediction came before kickoff: a tick given an explicit ``now`` is a replay's and stamps its predictions
with it. The clock stops when the last prediction is stored.

    python -m bench.kickoff_slot [--quick] [--matches N] [--models M] [--workers W] [--scale S]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from bench.world import World, llm_server, seed, workers

LOG_DIR = Path("var/bench/kickoff_slot")


@dataclass(frozen=True)
class Slot:
    matches: int = 40
    models: int = 42
    median: float = 8.0  # seconds, at full scale
    sigma: float = 0.7
    low: float = 1.0
    high: float = 60.0
    cap: int = 2
    workers: int = 12  # 6 per concurrent request a model serves (README, benchmark 7): 8 ran 1.15-1.23x
    lead_minutes: float = 30.0  # PREDICTION_LEAD at full scale
    scale: float = 0.1
    seed: int = 17

    def describe(self) -> str:
        return (f"{self.matches} matches x {self.models} LLM models at one kickoff; LLM latency lognormal median "
                f"{self.median:g}s sigma {self.sigma:g} clipped {self.low:g}..{self.high:g}s, {self.cap} concurrent "
                f"per model; {self.workers} workers, PREDICT_MAX_WORKERS {self.models}; PREDICTION_LEAD "
                f"{self.lead_minutes:g}m; time x{self.scale:g}")

    def world(self) -> World:
        return World(matches=self.matches, llm_models=self.models, llm_latency=0.0, llm_cap=self.cap,
                     workers=self.workers, predict_max_workers=self.models)

    def server_args(self) -> tuple[str, ...]:
        s = self.scale
        return ("--latency-median", str(self.median * s), "--latency-sigma", str(self.sigma),
                "--latency-min", str(self.low * s), "--latency-max", str(self.high * s), "--seed", str(self.seed))


FULL = Slot()
QUICK = replace(FULL, matches=12, scale=0.05)


def bound(slot: Slot) -> dict:
    """The least time the per-model concurrency allows, from the same draws the fake LLM makes (scaled)."""
    from tests.fakes.fake_llm import Profile

    profile = Profile(median=slot.median * slot.scale, sigma=slot.sigma, low=slot.low * slot.scale,
                      high=slot.high * slot.scale, seed=slot.seed)
    per_model = {}
    for i in range(slot.models):
        draws = [profile.draw(f"bench-llm-{i}", k)[0] for k in range(slot.matches)]
        per_model[i] = max(sum(draws) / slot.cap, max(draws))
    worst = max(per_model, key=per_model.get)
    return {"bound_s": per_model[worst], "worst_model": f"llm-{worst}",
            "mean_model_s": statistics.fmean(per_model.values())}


def _prepare(slot: Slot, llm_url: str):
    """Scheduled matches kicking off together a PREDICTION_LEAD from now, no analysis, no prediction."""
    from django.utils import timezone

    from matches.models import Match

    match_ids = seed(slot.world(), llm_url)
    lead = timedelta(minutes=slot.lead_minutes * slot.scale)
    kickoff = (timezone.now() + lead).replace(microsecond=0) + timedelta(seconds=1)
    Match.objects.filter(pk__in=match_ids).update(kickoff_time=kickoff, status=Match.Status.SCHEDULED,
                                                  status_code="NS", home_score=None, away_score=None)
    return match_ids, kickoff, lead


def _kick_off_in(match_ids: list[int], lead: timedelta):
    """Move the slot's kickoff to ``lead`` from now, rounded down to the second, so a tick on the real clock
    made just after finds it inside its PREDICTION_LEAD (the analyses, made as of earlier, stay current)."""
    from django.utils import timezone

    from matches.models import Match

    kickoff = (timezone.now() + lead).replace(microsecond=0)
    Match.objects.filter(pk__in=match_ids).update(kickoff_time=kickoff)
    return kickoff


def _wait(done, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _analyses_done(match_ids: list[int]) -> bool:
    from matches.models import MatchAnalysis

    return MatchAnalysis.objects.filter(match_id__in=match_ids).values("match_id").distinct().count() == len(
        match_ids)


def measure(slot: Slot, *, log_dir: Path = LOG_DIR) -> dict:
    """Analyses at T-ANALYSIS_LEAD (untimed), then the timed tick at T-PREDICTION_LEAD until all are stored."""
    from django.conf import settings
    from django.test import override_settings
    from django.utils import timezone

    from bench.world import API_KEY
    from pipeline import queueing, service
    from predictions.models import Prediction
    from tests.fakes.fake_api_football import FakeApiFootball

    queueing.get_queue().connection.flushdb()
    expected = slot.matches * slot.models
    with llm_server(slot.world(), slot.server_args()) as llm_url, FakeApiFootball(api_key=API_KEY) as api, \
            workers(slot.world(), api.base_url, log_dir, queue_name="default"):
        match_ids, kickoff, lead = _prepare(slot, llm_url)
        with override_settings(PREDICTION_LEAD=lead):
            service.tick(now=kickoff - settings.ANALYSIS_LEAD)
            _wait(lambda: _analyses_done(match_ids), timeout=300, what="the analyses")
            # The timed tick runs on the real clock: a tick given its ``now`` is a replay's, and writes its
            # predictions by that clock, which would make every lead time exactly PREDICTION_LEAD. So the
            # slot kicks off one lead from now (to the second below), and the tick follows at once.
            kickoff = _kick_off_in(match_ids, lead)
            t0 = timezone.now()
            report = service.tick()
            _wait(lambda: Prediction.objects.filter(match_id__in=match_ids).count() >= expected,
                  timeout=max(600, 20 * lead.total_seconds()), what="the predictions")
    stored = list(Prediction.objects.filter(match_id__in=match_ids).values_list("created_at", "is_retroactive"))
    return {"stored": [s for s, _ in stored], "retroactive": sum(r for _, r in stored), "expected": expected,
            "duplicates": len(stored) - len({p for p in Prediction.objects.filter(match_id__in=match_ids)
                                             .values_list("match_id", "model_id")}),
            "kickoff": kickoff, "tick_at": t0, "enqueued": len(report.predicted)}


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, math.ceil(q * len(values)) - 1)]


def report(slot: Slot, result: dict, out=print) -> dict:
    b = bound(slot)
    leads = [(result["kickoff"] - s).total_seconds() for s in result["stored"]]
    wall = (max(result["stored"]) - result["tick_at"]).total_seconds()
    full = 1 / slot.scale
    figures = {
        "slot": slot.describe(), "predictions": len(leads), "expected": result["expected"],
        "before_kickoff": sum(lead > 0 for lead in leads), "retroactive": result["retroactive"],
        "duplicates": result["duplicates"], "lead_min_s": min(leads), "lead_p5_s": _percentile(leads, 0.05),
        "lead_median_s": statistics.median(leads), "wall_s": wall, "bound_s": b["bound_s"],
        "ratio": wall / b["bound_s"],
    }
    out(f"\nslot: {slot.describe()}")
    out(f"tick at kickoff - {slot.lead_minutes * slot.scale:g} min enqueued {result['enqueued']} chains; "
        f"{len(leads)}/{result['expected']} predictions stored, {figures['before_kickoff']} before kickoff, "
        f"{result['retroactive']} retroactive, {result['duplicates']} duplicates")
    out(f"lead time (kickoff - stored), measured: min {figures['lead_min_s']:.1f}s, p5 {figures['lead_p5_s']:.1f}s, "
        f"median {figures['lead_median_s']:.1f}s; at full scale (x{full:g}): min {figures['lead_min_s'] * full:.0f}s, "
        f"p5 {figures['lead_p5_s'] * full:.0f}s, median {figures['lead_median_s'] * full:.0f}s")
    out(f"slot wall {wall:.1f}s (full scale {wall * full:.0f}s) vs bound {b['bound_s']:.1f}s (full scale "
        f"{b['bound_s'] * full:.0f}s; worst model {b['worst_model']}, mean model {b['mean_model_s']:.1f}s): "
        f"{figures['ratio']:.2f}x")
    met = figures["before_kickoff"] == result["expected"] and figures["ratio"] <= 1.2
    out(f"target all before kickoff and <= 1.2x the bound: {'met' if met else 'MISSED'}")
    return figures


def run(slot: Slot, out=print) -> dict:
    result = measure(slot)
    return {"result": result, "figures": report(slot, result, out=out)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.matches} matches, time x{QUICK.scale:g}")
    parser.add_argument("--matches", type=int)
    parser.add_argument("--models", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--scale", type=float)
    args = parser.parse_args(argv)
    from bench import env

    env.configure()
    slot = QUICK if args.quick else FULL
    for name in ("matches", "models", "workers", "scale"):
        if getattr(args, name):
            slot = replace(slot, **{name: getattr(args, name)})
    return run(slot)["figures"]


if __name__ == "__main__":
    main()
