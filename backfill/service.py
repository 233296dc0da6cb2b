"""The backfill: plan what is missing, start chains for it, follow them to the end.

Entry points (the command, the admin action, the daily schedule) call only
this module.
"""

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from backfill import queueing
from backfill.errors import BackfillError
from backfill.models import BackfillItem, BackfillRun
from backfill.selectors import MatchGap, SkippedMatch, Stage, find_gaps, find_skipped, window
from matches.models import Match
from predictions.models import PredictionModel

logger = logging.getLogger(__name__)

MIN_DAYS, MAX_DAYS = 1, 365
# Worst case of the analysis' API top-up: league fixtures and head-to-head.
API_REQUESTS_PER_ANALYSIS = 2
RECOVER_EVERY_SECONDS = 15.0
UNFINISHED = (BackfillItem.Status.QUEUED, BackfillItem.Status.IN_FLIGHT, BackfillItem.Status.RUNNING)


def validate_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        text = str(days).strip()
        # Plain ASCII digits only: int() would also take "1_0" or other scripts' digits.
        if not re.fullmatch(r"-?[0-9]+", text):
            raise BackfillError(f"--days must be an integer from {MIN_DAYS} to {MAX_DAYS}, got {days!r}")
        days = int(text)
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise BackfillError(f"--days must be an integer from {MIN_DAYS} to {MAX_DAYS}, got {days}")
    return days


@dataclass
class BackfillPlan:
    days: int
    window_start: datetime
    window_end: datetime
    match_ids: list[int] | None
    active_models: int
    gaps: list[MatchGap]
    skipped: list[SkippedMatch]
    llm_model_ids: frozenset[int] = field(default_factory=frozenset)

    def count(self, stage: str) -> int:
        return sum(stage in g.stages for g in self.gaps)

    @property
    def estimate(self) -> dict[str, int]:
        return {
            "analyses": self.count(Stage.ANALYZE),
            "predictions": sum(len(g.missing_model_ids) for g in self.gaps),
            "settlements": self.count(Stage.SETTLE),
            # The analysis asks the API only for history our database lacks, and only with a key.
            "api_football_requests_max": (
                self.count(Stage.ANALYZE) * API_REQUESTS_PER_ANALYSIS if settings.API_FOOTBALL_KEY else 0
            ),
            "llm_calls": sum(len(self.llm_model_ids.intersection(g.missing_model_ids)) for g in self.gaps),
        }

    def gaps_by_status(self) -> dict[str, list[MatchGap]]:
        grouped: dict[str, list[MatchGap]] = {s: [] for s in ("finished", "live", "scheduled")}
        for gap in self.gaps:
            grouped[gap.status].append(gap)
        return grouped

    def as_dict(self) -> dict:
        return {
            "days": self.days,
            "window": [self.window_start.isoformat(), self.window_end.isoformat()],
            "match_ids": self.match_ids,
            "active_models": self.active_models,
            "estimate": self.estimate,
            "gaps": [
                {
                    "match_id": g.match_id,
                    "status": g.status,
                    "kickoff_time": g.kickoff_time.isoformat(),
                    "external_id": g.external_id,
                    "has_analysis": g.has_analysis,
                    "prediction_count": g.prediction_count,
                    "missing_model_ids": list(g.missing_model_ids),
                    "stages": list(g.stages),
                }
                for g in self.gaps
            ],
            "skipped": [
                {"match_id": s.match_id, "status": s.status, "kickoff_time": s.kickoff_time.isoformat(),
                 "reason": s.reason}
                for s in self.skipped
            ],
        }


def plan_backfill(
    days: int | None = None, *, match_ids: Sequence[int] | None = None, now: datetime | None = None
) -> BackfillPlan:
    """What is missing and what it will cost; changes nothing.

    With ``match_ids`` and no ``days``, the window is the longest allowed, so an
    operator's explicit choice of matches is not silently cut by the default.
    """
    if days is None:
        days = MAX_DAYS if match_ids else settings.BACKFILL_DEFAULT_DAYS
    days = validate_days(days)
    now = now or timezone.now()
    ids = None
    if match_ids is not None:
        ids = sorted({int(i) for i in match_ids})
        known = set(Match.objects.filter(pk__in=ids).values_list("pk", flat=True))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise BackfillError(f"no match with id {', '.join(map(str, unknown))}")
    start, end = window(days, now)
    gaps = find_gaps(days, now=now, match_ids=ids)
    skipped = find_skipped(days, now=now, match_ids=ids)
    if ids is not None:
        outside = Match.objects.filter(pk__in=ids).exclude(kickoff_time__gte=start, kickoff_time__lte=end)
        skipped += [
            SkippedMatch(m.pk, m.status, m.kickoff_time, f"kickoff outside the {days}-day window (or in the future)")
            for m in outside
        ]
    models = dict(PredictionModel.objects.filter(is_active=True).values_list("pk", "provider"))
    return BackfillPlan(
        days=days,
        window_start=start,
        window_end=end,
        match_ids=ids,
        active_models=len(models),
        gaps=gaps,
        skipped=skipped,
        llm_model_ids=frozenset(
            pk for pk, provider in models.items() if provider == PredictionModel.Provider.OPENAI_COMPATIBLE
        ),
    )


def start_backfill(plan: BackfillPlan, triggered_by: str, *, user=None) -> BackfillRun:
    """Record the run and its items, then enqueue a chain per gap (or run them in-process)."""
    if queueing.redis_enabled():
        queueing.check_connection()
    with transaction.atomic():
        run = BackfillRun.objects.create(
            triggered_by=triggered_by,
            user=user,
            days=plan.days,
            window_start=plan.window_start,
            window_end=plan.window_end,
            requested_match_ids=plan.match_ids or [],
            status=BackfillRun.Status.RUNNING,
            plan={"estimate": plan.estimate, "skipped": plan.as_dict()["skipped"],
                  "active_models": plan.active_models},
        )
        items = BackfillItem.objects.bulk_create(
            BackfillItem(
                run=run,
                match_id=gap.match_id,
                stages=list(gap.stages),
                stage=gap.stages[0],
                missing_models=len(gap.missing_model_ids),
            )
            for gap in plan.gaps
            if gap.stages
        )
    logger.info(
        "backfill run started",
        extra={"run_id": run.pk, "match_ids": [i.match_id for i in items], "by": triggered_by},
    )
    if not items:
        _finalize([run.pk])
    elif queueing.redis_enabled():
        _enqueue(run, items)
    else:
        _run_in_process(items)
    run.refresh_from_db()
    return run


def _enqueue(run: BackfillRun, items: list[BackfillItem]) -> None:
    """Enqueue item by item; each write touches only what callbacks never write, so a chain
    finishing while later ones are still being enqueued keeps its outcome."""
    queue = queueing.get_queue()
    queueing.recover_abandoned(queue)
    try:
        for item in items:
            outcome = queueing.enqueue_chain(queue, item.match_id, item.stages)
            BackfillItem.objects.filter(pk=item.pk).update(job_ids=outcome.job_ids, reused=outcome.state == "in_flight")
            if outcome.state != "in_flight":
                continue
            logger.info("chain already in flight", extra={"match_id": item.match_id, "run_id": run.pk})
            BackfillItem.objects.filter(pk=item.pk, status=BackfillItem.Status.QUEUED).update(
                status=BackfillItem.Status.IN_FLIGHT, stage=next(s for s in Stage.ORDER if s in outcome.job_ids)
            )
            if outcome.missing:
                # The reused chain may already have closed the item: it did not do everything asked.
                BackfillItem.objects.filter(pk=item.pk).update(
                    error=f"an earlier chain in flight does not run {', '.join(outcome.missing)}; "
                    "run the backfill again once it has finished",
                    status=Case(
                        When(status=BackfillItem.Status.SUCCEEDED, then=Value(BackfillItem.Status.FAILED)),
                        default=F("status"),
                    ),
                )
        _finalize([run.pk])
    except Exception as exc:
        BackfillItem.objects.filter(run=run, job_ids={}).update(
            status=BackfillItem.Status.FAILED, error=f"not enqueued: {exc.__class__.__name__}: {exc}"
        )
        _finalize([run.pk])
        raise BackfillError(f"enqueueing run {run.pk} failed: {exc.__class__.__name__}: {exc}") from exc


def _run_in_process(items: list[BackfillItem]) -> None:
    """The embedded default: the same job functions, synchronously, in chain order."""
    for item in items:
        for stage in item.stages:
            kwargs = {"allow_retroactive": True} if stage == Stage.PREDICT else {}
            try:
                result = import_string(queueing.STAGE_FUNCTIONS[stage])(item.match_id, **kwargs)
            except Exception as exc:
                record_stage_failure(item.match_id, stage, f"{exc.__class__.__name__}: {exc}", run_id=item.run_id)
                break
            # Every open item of the match, as the RQ callbacks do: a run whose process was killed
            # mid-way is closed by the run that completes its matches, not left 'running' for good.
            record_stage_success(item.match_id, stage, result)


def _open_items(match_id: int, run_id: int | None) -> list[BackfillItem]:
    qs = BackfillItem.objects.select_for_update().filter(match_id=match_id, status__in=UNFINISHED)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    return list(qs.order_by("pk"))


def _next_stage(item: BackfillItem, stage: str) -> str:
    later = [s for s in Stage.ORDER if s in item.stages and Stage.ORDER.index(s) > Stage.ORDER.index(stage)]
    return later[0] if later else BackfillItem.Stage.DONE


def failed_models_still_active(predict_result: dict | None) -> dict[str, str]:
    """The models a predict job reported failed that are still active (the breaker has not tripped)."""
    models = (predict_result or {}).get("models", {})
    failed = {slug: r.get("reason", "") for slug, r in models.items() if r.get("status") == "failed"}
    if not failed:
        return {}
    active = set(PredictionModel.objects.filter(slug__in=failed, is_active=True).values_list("slug", flat=True))
    return {slug: reason for slug, reason in failed.items() if slug in active}


def record_predictions_of_a_retried_attempt(match_id: int, predict_result: dict | None) -> None:
    """Count what an attempt created before its job is retried (the next attempt reports only its own)."""
    created = int((predict_result or {}).get("created", 0))
    if created:
        BackfillItem.objects.filter(match_id=match_id, status__in=UNFINISHED).update(
            predictions_created=F("predictions_created") + created, updated_at=timezone.now()
        )


def record_stage_success(match_id: int, stage: str, result: dict | None, *, run_id: int | None = None) -> None:
    """Called when a stage's job finished (an RQ success callback, or in-process)."""
    result = result or {}
    with transaction.atomic():
        items = _open_items(match_id, run_id)
        for item in items:
            if stage == Stage.ANALYZE:
                item.analysis_created = bool(result.get("created"))
            elif stage == Stage.PREDICT:
                # += : an earlier attempt that is being retried may have created some already.
                item.predictions_created += int(result.get("created", 0))
                failed = {slug: r["reason"] for slug, r in result.get("models", {}).items() if r["status"] == "failed"}
                if failed:
                    item.error = f"{len(failed)} model(s) failed: " + "; ".join(
                        f"{slug}: {reason}" for slug, reason in sorted(failed.items())
                    )
            elif stage == Stage.SETTLE:
                item.settled = result.get("outcome") in ("scored", "voided")
            item.stage = _next_stage(item, stage) if stage in item.stages else item.stage
            if item.stage == BackfillItem.Stage.DONE:
                item.status = BackfillItem.Status.FAILED if item.error else BackfillItem.Status.SUCCEEDED
            elif item.status != BackfillItem.Status.IN_FLIGHT:
                item.status = BackfillItem.Status.RUNNING
        BackfillItem.objects.bulk_update(
            items, ["analysis_created", "predictions_created", "settled", "error", "stage", "status", "updated_at"]
        )
    logger.info("stage succeeded", extra={"match_id": match_id, "stage": stage})
    _finalize({i.run_id for i in items})


def record_stage_failure(match_id: int, stage: str, reason: str, *, run_id: int | None = None) -> None:
    with transaction.atomic():
        items = _open_items(match_id, run_id)
        for item in items:
            item.stage = stage
            item.status = BackfillItem.Status.FAILED
            item.error = reason[:4000]
        BackfillItem.objects.bulk_update(items, ["stage", "status", "error", "updated_at"])
    logger.warning("stage failed", extra={"match_id": match_id, "stage": stage, "error": reason})
    _finalize({i.run_id for i in items})


def _finalize(run_ids: Iterable[int]) -> None:
    """Close runs whose items have all finished."""
    for run in BackfillRun.objects.filter(pk__in=list(run_ids), status=BackfillRun.Status.RUNNING):
        if run.items.filter(status__in=UNFINISHED).exists():
            continue
        failed = run.items.filter(status__in=(BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED)).exists()
        BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
            status=BackfillRun.Status.FAILED if failed else BackfillRun.Status.SUCCEEDED, finished_at=timezone.now()
        )


def refresh_run(run: BackfillRun) -> BackfillRun:
    """Reconcile the run's open items with their jobs' states: one Redis round trip.

    Callbacks keep items current; this catches what callbacks cannot see (a
    worker killed outright, a job canceled from the dashboard).
    """
    items = list(run.items.filter(status__in=UNFINISHED))
    if items and queueing.redis_enabled():
        queue = queueing.get_queue()
        statuses = queueing.fetch_statuses(queue, [jid for i in items for jid in i.job_ids.values()])
        for item in items:
            _reconcile(queue, item, statuses)
    _finalize([run.pk])
    run.refresh_from_db()
    return run


def _reconcile(queue, item: BackfillItem, statuses: dict[str, str | None]) -> None:
    if not item.job_ids:
        # Not enqueued (yet, or its enqueuer died): a later run's chain for this match closes it.
        return
    chain = [(stage, item.job_ids[stage]) for stage in Stage.ORDER if stage in item.job_ids]
    for stage, jid in chain:
        status = statuses.get(jid)
        if status in queueing.DEAD or status is None:
            reason = "job vanished from Redis" if status is None else queueing.failure_reason(queue, jid)
            if status == "canceled":
                BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(
                    status=BackfillItem.Status.CANCELED, stage=stage, error="canceled"
                )
            else:
                record_stage_failure(item.match_id, stage, f"{stage} job {status or 'missing'}: {reason}",
                                     run_id=item.run_id)
            return
        if status != "finished":
            new_status = item.status
            if status == "started" and item.status == BackfillItem.Status.QUEUED:
                new_status = BackfillItem.Status.RUNNING
            if (item.stage, item.status) != (stage, new_status):
                BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(stage=stage, status=new_status)
            return
    # Every job finished but no callback closed the item (e.g. a callback's write failed).
    BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(
        stage=BackfillItem.Stage.DONE,
        status=BackfillItem.Status.FAILED if item.error else BackfillItem.Status.SUCCEEDED,
    )


def wait_for_run(
    run: BackfillRun,
    *,
    timeout: float | None = None,
    tick: float = 0.5,
    on_progress: Callable[[BackfillRun], None] | None = None,
) -> bool:
    """Block until every chain of the run finished or failed; False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
    while True:
        if queueing.redis_enabled() and time.monotonic() >= next_recovery:
            # A job whose worker was killed stays 'started' until someone cleans up after the heartbeat
            # expires; the workers do it only every few minutes, and with none running, never.
            queueing.recover_abandoned(queueing.get_queue())
            next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
        refresh_run(run)
        if on_progress:
            on_progress(run)
        if run.is_finished:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(tick)


def cancel_run(run: BackfillRun) -> int:
    """Cancel the run's queued jobs; running ones finish. Returns the number of jobs canceled."""
    BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
        status=BackfillRun.Status.CANCELED, finished_at=timezone.now()
    )
    canceled = []
    if queueing.redis_enabled():
        # Chains reused from another run are that run's to cancel.
        ids = [jid for item in run.items.filter(status__in=UNFINISHED, reused=False) for jid in item.job_ids.values()]
        canceled = queueing.cancel_pending(queueing.get_queue(), ids)
    # Close every open item now: a job already running finishes, but the run is over, so its callback
    # must not reopen the item (nothing would ever close it again).
    run.items.filter(status__in=UNFINISHED).update(
        status=BackfillItem.Status.CANCELED,
        error=Case(When(error="", then=Value("canceled (a job already running finishes on its own)")),
                   default=F("error"), output_field=TextField()),
        updated_at=timezone.now(),
    )
    refresh_run(run)
    logger.info("backfill run canceled", extra={"run_id": run.pk, "jobs_canceled": len(canceled)})
    return len(canceled)


def retry_failed(run: BackfillRun, triggered_by: str, *, user=None) -> BackfillRun | None:
    """A new run over the failed or canceled matches of ``run`` (only what is still missing)."""
    match_ids = list(
        run.items.filter(Q(status=BackfillItem.Status.FAILED) | Q(status=BackfillItem.Status.CANCELED))
        .values_list("match_id", flat=True)
    )
    if not match_ids:
        return None
    return start_backfill(plan_backfill(match_ids=match_ids), triggered_by, user=user)


def summarize_run(run: BackfillRun) -> dict:
    items = list(run.items.select_related("match__home_team", "match__away_team").order_by("match__kickoff_time"))
    fresh = [i for i in items if not i.reused]
    return {
        "run_id": run.pk,
        "status": run.status,
        "triggered_by": run.triggered_by,
        "window": [run.window_start.isoformat() if run.window_start else None,
                   run.window_end.isoformat() if run.window_end else None],
        "matches_found": len(items),
        "analyses_created": sum(i.analysis_created for i in fresh),
        "predictions_created": sum(i.predictions_created for i in fresh),
        "settlements": sum(i.settled for i in fresh),
        "already_in_flight": sum(i.reused for i in items),
        "succeeded": sum(i.status == BackfillItem.Status.SUCCEEDED for i in items),
        "skipped": run.plan.get("skipped", []),
        "errors": [
            {"match_id": i.match_id, "match": str(i.match), "stage": i.stage, "reason": i.error}
            for i in items
            if i.status in (BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED)
        ],
        "items": [
            {"match_id": i.match_id, "stages": i.stages, "stage": i.stage, "status": i.status,
             "job_ids": i.job_ids, "reused": i.reused, "predictions_created": i.predictions_created, "error": i.error}
            for i in items
        ],
    }
