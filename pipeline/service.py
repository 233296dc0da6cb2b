"""The live pipeline: ``tick(now)`` does everything due at ``now`` and reports it.

``now`` is the clock of every decision (tests, the replay and cron pass it). Each
step is idempotent, so a second tick at the same ``now`` changes nothing, and a
tick after an outage catches up: it analyses and predicts what is still before
kickoff, settles what ended, and leaves what can no longer be predicted honestly
to the backfill (which flags it retroactive).
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from matches.api_football import ApiFootballError
from matches.api_football.errors import (
    ApiConnectionError,
    ApiTimeout,
    BudgetUnavailable,
    DailyQuotaExhausted,
    ProviderBug,
    RateLimited,
    ServerError,
)
from matches.models import Competition
from matches.services.fixture_sync import sync_fixtures
from pipeline import live, queueing, selectors
from pipeline.models import PipelineState

logger = logging.getLogger(__name__)

# API errors that mean "the service is unavailable" (exit code 4), not "we did something wrong".
UNAVAILABLE = (ApiConnectionError, ApiTimeout, ServerError, ProviderBug, RateLimited, DailyQuotaExhausted,
               BudgetUnavailable)


@dataclass
class TickReport:
    now: datetime
    fixture_sync: dict = field(default_factory=lambda: {"ran": False, "reason": ""})
    polled: dict = field(default_factory=lambda: {"ran": False, "matches": 0, "api_calls": 0})
    changed: list[dict] = field(default_factory=list)  # status or score changes stored by polling
    stuck: list[dict] = field(default_factory=list)
    settled: list[dict] = field(default_factory=list)
    analysed: list[dict] = field(default_factory=list)
    predicted: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["now"] = self.now.isoformat()
        data["ok"] = self.ok
        return data

    @property
    def ok(self) -> bool:
        return not (self.errors or self.unavailable)

    def summary(self) -> str:
        """The one log line of a tick: what it did, with match ids and names."""

        def names(entries: list[dict]) -> str:
            return ", ".join(f"{e['match_id']} {e['match']} [{e['state']}]" if "state" in e
                             else f"{e['match_id']} {e['match']}" for e in entries) or "-"

        sync = self.fixture_sync
        return (
            f"tick {self.now.isoformat()}: sync {'ran' if sync['ran'] else 'skipped'}; "
            f"polled {self.polled['matches']} in {self.polled['api_calls']} API call(s), "
            f"changed {names(self.changed)}; "
            f"stuck {names(self.stuck)}; settled {names(self.settled)}; analysed {names(self.analysed)}; "
            f"predicted {names(self.predicted)}; errors {len(self.errors) + len(self.unavailable)}"
        )


def _due(last: datetime | None, every: timedelta, now: datetime) -> bool:
    """Due when never done, when ``every`` has passed, or when the clock went back (a new replay)."""
    return last is None or now < last or now - last >= every


def _api_failure(report: TickReport, step: str, exc: ApiFootballError) -> None:
    message = f"{step}: API-Football {exc.__class__.__name__}: {exc}"
    (report.unavailable if isinstance(exc, UNAVAILABLE) else report.errors).append(message)
    logger.warning(message)


def _competitions() -> list[tuple[int, int]]:
    """PIPELINE_COMPETITIONS (league:season), else every synced competition at its latest season."""
    if settings.PIPELINE_COMPETITIONS:
        pairs = [item.split(":") for item in settings.PIPELINE_COMPETITIONS]
        return [(int(league), int(season)) for league, season in pairs]
    latest: dict[int, int] = {}
    for league, season in Competition.objects.filter(external_id__isnull=False).values_list("external_id", "season"):
        latest[league] = max(season, latest.get(league, season))
    return sorted(latest.items())


def _sync(now: datetime, state: PipelineState, report: TickReport) -> None:
    if not settings.API_FOOTBALL_KEY:
        report.fixture_sync["reason"] = "no API-Football key"
        return
    if not _due(state.last_fixture_sync_at, settings.FIXTURE_SYNC_EVERY, now):
        report.fixture_sync["reason"] = "not due"
        return
    report.fixture_sync.update(ran=True, competitions=[], fetched=0, created=0, updated=0)
    try:
        for league, season in _competitions():
            result = sync_fixtures(league=league, season=season, date_from=now.date(),
                                   date_to=(now + settings.FIXTURE_HORIZON).date())
            report.fixture_sync["competitions"].append(f"{league}:{season}")
            for key in ("fetched", "created", "updated"):
                report.fixture_sync[key] += getattr(result, key)
            report.errors.extend(f"fixture sync: {p}" for p in result.problems)
    except ApiFootballError as exc:
        _api_failure(report, "fixture sync", exc)
        return
    state.last_fixture_sync_at = now


def _observe(matches: list, now: datetime, report: TickReport, step: str) -> list[dict]:
    replayed, api = live.split_by_source(matches)
    try:
        observations = live.observe_replay(replayed, now)
    except live.ReplayUnavailable as exc:
        observations = []
        report.unavailable.append(f"{step}: {exc}")
        logger.warning(f"{step}: {exc}")
    if api:
        try:
            seen, calls = live.observe_api(api, report.errors)
        except ApiFootballError as exc:
            _api_failure(report, step, exc)
        else:
            observations += seen
            report.polled["api_calls"] += calls
    return [change for o in observations if (change := live.store(o)) is not None]


def _poll(now: datetime, state: PipelineState, report: TickReport) -> None:
    if _due(state.last_poll_at, settings.LIVE_POLL_EVERY, now):
        matches = selectors.due_for_polling(now)
        report.polled.update(ran=True, matches=len(matches))
        before = len(report.unavailable)
        report.changed += _observe(matches, now, report, "live polling")
        if len(report.unavailable) == before:
            state.last_poll_at = now
    if _due(state.last_stuck_check_at, settings.STUCK_RECHECK_EVERY, now):
        matches = selectors.stuck(now)
        before = len(report.unavailable)
        report.stuck += [{"match_id": m.pk, "match": live.label(m), "status": m.status} for m in matches]
        report.changed += _observe(matches, now, report, "stuck recheck")
        if len(report.unavailable) == before:
            state.last_stuck_check_at = now


def _entry(match, outcome: queueing.StageOutcome) -> dict:
    return {"match_id": match.pk, "match": live.label(match), "state": outcome.state,
            "job_ids": outcome.job_ids, "detail": outcome.detail}


def _dispatch(match, stages: list[str], now: datetime, report: TickReport, clock: datetime | None = None) -> dict:
    entry = _entry(match, queueing.dispatch(match.pk, stages, as_of=now, clock=clock))
    if entry["state"] == "failed":
        report.errors.append(f"match {match.pk} {entry['match']}: {entry['detail']}")
    return entry


def _settle(now: datetime, report: TickReport) -> None:
    report.settled += [_dispatch(m, ["settle"], now, report) for m in selectors.due_for_settlement()]


def _analyse_and_predict(now: datetime, report: TickReport, clock: datetime | None) -> None:
    """T-ANALYSIS_LEAD: the analysis as of now; T-PREDICTION_LEAD: the missing predictions (one chain).

    ``clock``: the tick's given clock; its predictions are then written by it (see tick).
    """
    to_predict = selectors.due_for_prediction(now)
    chained = {m.pk for m in to_predict}
    report.analysed += [
        _dispatch(m, ["analyze"], now, report) for m in selectors.due_for_analysis(now) if m.pk not in chained
    ]
    for match in to_predict:
        stages = ["predict"] if match.analysis is not None else ["analyze", "predict"]
        report.predicted.append(_dispatch(match, stages, now, report, clock))


def tick(now: datetime | None = None) -> TickReport:
    """Do everything due at ``now`` (default: the real time) and return what was done.

    A tick given its ``now`` (a replay, tests, the chaos demo) is the writer's clock of the predictions it
    makes, so one written after a replayed kickoff is flagged retroactive; without it (cron, the loop) the
    jobs write by the real time, as they always did.
    """
    clock = now
    now = now or timezone.now()
    state = PipelineState.load()
    report = TickReport(now=now)
    _sync(now, state, report)
    _poll(now, state, report)
    _settle(now, report)
    _analyse_and_predict(now, report, clock)
    state.last_tick_at, state.ticked_at = now, timezone.now()
    state.last_report = report.to_dict()
    state.save()
    logger.info(report.summary(), extra={"tick_now": now.isoformat(), "ok": report.ok})
    return report
