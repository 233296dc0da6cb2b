"""Generate exactly the missing predictions of a match, from its pre-kickoff analysis."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from matches.models import Match, MatchAnalysis
from matches.services.leak_guard import latest_result_kickoff
from predictions.models import Prediction, PredictionModel
from predictions.providers.base import MatchContext, PredictionFailed, Predictor, Tip, failure_reason, predict_versioned
from predictions.selectors import active_models, field_tendency_counts
from predictions.services.health import breaker_trips, record_outcomes

logger = logging.getLogger(__name__)

PredictorFactory = Callable[[PredictionModel], Predictor]
Clock = Callable[[], datetime]
# The prompt and model versions of today's code; rows from before versioning are 'legacy'.


class PredictionRefused(Exception):
    """The match may not be predicted (wrong status, no analysis); the message says why."""


@dataclass
class ModelOutcome:
    slug: str
    status: str  # "created", "failed" or "skipped"
    reason: str = ""
    tip: tuple[int, int] | None = None


@dataclass
class PredictResult:
    match_id: int
    is_retroactive: bool
    outcomes: dict[int, ModelOutcome] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)

    def ids_with(self, status: str) -> list[int]:
        return [pk for pk, o in self.outcomes.items() if o.status == status]

    @property
    def created(self) -> int:
        return len(self.ids_with("created"))

    @property
    def failed(self) -> int:
        return len(self.ids_with("failed"))

    def as_dict(self) -> dict:
        return {
            "match_id": self.match_id,
            "is_retroactive": self.is_retroactive,
            "created": self.created,
            "failed": self.failed,
            "skipped": len(self.ids_with("skipped")),
            "disabled": self.disabled,
            "models": {
                o.slug: {"status": o.status, "reason": o.reason, "tip": o.tip} for o in self.outcomes.values()
            },
        }


def writer_clock(now: datetime | None) -> Clock:
    """The clock the rows are written by: a fixed replayed instant, or the real time when read."""
    if now is None:
        return timezone.now
    return lambda: now


def build_context(match: Match, analysis: MatchAnalysis, *, field_size: int | None = None) -> MatchContext:
    """``field_size``: the active lineup's size when the caller has it already (no extra query)."""
    return MatchContext(
        match_id=match.pk,
        kickoff_time=match.kickoff_time,
        competition=str(match.competition),
        home_team_id=match.home_team_id,
        home_team=match.home_team.name,
        away_team_id=match.away_team_id,
        away_team=match.away_team.name,
        analysis=analysis.data
        | {
            "_field_shares": field_tendency_counts(match, settled_before=latest_result_kickoff(match.kickoff_time)),
            # the tips this match will get (the active lineup): in a small field a tip moves its own quota
            "_field_size": active_models().count() if field_size is None else field_size,
        },
        result_rule=match.competition.result_rule,
    )


def _default_factory(model: PredictionModel) -> Predictor:
    from predictions.providers.registry import build_predictor

    return build_predictor(model)


def _run_one(factory: PredictorFactory, model: PredictionModel, context: MatchContext) -> Tip | str:
    try:
        return predict_versioned(factory(model), context)
    except PredictionFailed as exc:
        return failure_reason(exc)
    except Exception as exc:  # one model's bug must not lose the others' predictions
        logger.exception("predictor crashed", extra={"match_id": context.match_id, "model": model.slug})
        return f"{exc.__class__.__name__}: {exc}"


def _run_all(factory: PredictorFactory, models: list[PredictionModel], context: MatchContext) -> list[Tip | str]:
    """Every model's answer, in parallel, within a time budget below the job's timeout.

    A model still thinking when the budget runs out counts as failed, so the
    answers already in are saved instead of dying with a timed-out job.
    """
    budget = settings.PREDICT_TIME_BUDGET
    workers = max(1, min(settings.PREDICT_MAX_WORKERS, len(models)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"predict-{context.match_id}")
    futures = [pool.submit(_run_one, factory, m, context) for m in models]
    done, _ = wait(futures, timeout=budget)
    pool.shutdown(wait=False, cancel_futures=True)
    return [f.result() if f in done else f"no answer within the {budget:g}s budget" for f in futures]


def _insert_ignoring_conflicts(rows: list[Prediction]) -> set[int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the model ids this call actually created."""
    if not rows:
        return set()
    table = Prediction._meta.db_table
    columns = [
        "match_id", "model_id", "analysis_id", "predicted_home", "predicted_away", "status", "tendency_points",
        "goal_diff_bonus", "exact_score_bonus", "total_points", "is_retroactive", "created_at", "prompt_version",
    ]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list = []
    for p in rows:
        params += [
            p.match_id, p.model_id, p.analysis_id, p.predicted_home, p.predicted_away, p.status, 0, 0, 0, 0,
            p.is_retroactive, p.created_at, p.prompt_version,
        ]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(rows))} "
        "ON CONFLICT (match_id, model_id) DO NOTHING RETURNING model_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _checked_match(match_id: int, *, allow_retroactive: bool, clock: Clock) -> tuple[Match, MatchAnalysis]:
    """The match and its analysis, or PredictionRefused saying why it may not be predicted."""
    try:
        match = Match.objects.select_related("competition", "home_team", "away_team").get(pk=match_id)
    except Match.DoesNotExist:
        raise PredictionRefused(f"match {match_id} does not exist") from None
    if match.is_called_off:
        raise PredictionRefused(f"match {match_id} is {match.status}; it is never predicted")
    if match.status != Match.Status.SCHEDULED and not allow_retroactive:
        raise PredictionRefused(
            f"match {match_id} is {match.status}; only scheduled matches are predicted unless allow_retroactive"
        )
    if not allow_retroactive and clock() >= match.kickoff_time:
        raise PredictionRefused(f"match {match_id} has kicked off; only allow_retroactive predicts it now")
    analysis = match.analysis  # the current version: the latest as of no later than kickoff
    if analysis is None:
        if MatchAnalysis.objects.filter(match_id=match_id).exists():
            raise PredictionRefused(
                f"match {match_id}'s analyses are all as of after its kickoff; rebuild it with analyze_match"
            )
        raise PredictionRefused(f"match {match_id} has no analysis; run analyze_match first")
    return match, analysis


def _active_models(match_id: int) -> list[PredictionModel]:
    """Every active model, each annotated ``done`` when it already predicted this match."""
    return list(
        PredictionModel.objects.filter(is_active=True)
        .annotate(done=Exists(Prediction.objects.filter(match_id=match_id, model_id=OuterRef("pk"))))
        .order_by("pk")
    )


def _rows_and_failures(
    match: Match, analysis: MatchAnalysis, missing: list[PredictionModel], answers: list[Tip | str],
    result: PredictResult, clock: Clock,
) -> tuple[list[Prediction], dict[int, str]]:
    """Unsaved predictions for the models that answered; the others' reasons, recorded in ``result``."""
    now = clock()
    result.is_retroactive = now >= match.kickoff_time
    rows, failures = [], {}
    for model, answer in zip(missing, answers, strict=True):
        if isinstance(answer, Tip):
            rows.append(
                Prediction(
                    match_id=match.pk, model_id=model.pk, analysis_id=analysis.pk, predicted_home=answer.home,
                    predicted_away=answer.away, status=Prediction.Status.PENDING,
                    is_retroactive=result.is_retroactive, created_at=now, prompt_version=answer.version,
                )
            )
        else:
            failures[model.pk] = answer
            result.outcomes[model.pk] = ModelOutcome(model.slug, "failed", answer)
    return rows, failures


def _save(
    rows: list[Prediction], failures: dict[int, str], missing: list[PredictionModel], result: PredictResult,
    *, count_failures: bool,
) -> None:
    """Insert the predictions, then record the models' health; fill the outcomes in ``result``."""
    # Saved first and on their own: a failed health write never takes the predictions with it.
    created = _insert_ignoring_conflicts(rows)
    tripped = record_outcomes([p.model_id for p in rows], failures if count_failures else breaker_trips(failures))
    by_id = {m.pk: m for m in missing}
    for p in rows:
        outcome = "created" if p.model_id in created else "skipped"
        reason = "" if p.model_id in created else "predicted concurrently by another job"
        result.outcomes[p.model_id] = ModelOutcome(
            by_id[p.model_id].slug, outcome, reason, (p.predicted_home, p.predicted_away)
        )
    result.disabled = sorted(by_id[pk].slug for pk in tripped)


def generate_predictions(
    match_id: int,
    *,
    allow_retroactive: bool = False,
    predictor_factory: PredictorFactory | None = None,
    count_failures: bool = True,
    now: datetime | None = None,
) -> PredictResult:
    """Run only the active models that have no prediction for this match yet.

    ``count_failures=False``: another attempt at this match follows, so its failures do not
    count towards the circuit breaker yet (one bad match must not switch a model off).

    Idempotent and safe to run concurrently: the unique (match, model) constraint
    with ON CONFLICT DO NOTHING means a second or parallel run never duplicates
    and never fails on the other. A match's status is never changed here.

    ``now``: the writer's clock, for a replayed clock only (the replay, the chaos demo): the rows are
    written as of it, and flagged retroactive when it is at or after kickoff. None (production) is the
    real time, read when the rows are written.

    Steps: check the match, select the models still missing, run them, save, report.
    """
    clock = writer_clock(now)
    match, analysis = _checked_match(match_id, allow_retroactive=allow_retroactive, clock=clock)
    models = _active_models(match_id)
    missing = [m for m in models if not m.done]
    result = PredictResult(match_id, is_retroactive=clock() >= match.kickoff_time)
    for m in models:
        if m.done:
            result.outcomes[m.pk] = ModelOutcome(m.slug, "skipped", "already predicted")
    if not missing:
        return result
    context = build_context(match, analysis, field_size=len(models))
    answers = _run_all(predictor_factory or _default_factory, missing, context)
    rows, failures = _rows_and_failures(match, analysis, missing, answers, result, clock)
    if result.is_retroactive and not allow_retroactive:
        # The models answered after kickoff: a live path must not write what it could not predict in time.
        raise PredictionRefused(f"match {match_id} kicked off while its models answered; nothing written")
    _save(rows, failures, missing, result, count_failures=count_failures)
    logger.info(
        "predicted match",
        extra={"match_id": match_id, "n_created": result.created, "n_failed": result.failed},
    )
    return result
