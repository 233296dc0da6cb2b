"""Read-only queries of the predictions app."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from matches.models import Match, MatchAnalysis
from predictions.models import Prediction, PredictionModel


def active_models() -> QuerySet[PredictionModel]:
    return PredictionModel.objects.filter(is_active=True)


def active_model_count_subquery() -> Coalesce:
    """The gap threshold (computed from the lineup, never a constant), as a scalar subquery."""
    counted = active_models().order_by().annotate(one=Value(1)).values("one").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)


def with_prediction_coverage(matches: QuerySet[Match]) -> QuerySet[Match]:
    """Annotate each match with what the benchmark has of it, for lists and filters.

    ``pre_kickoff_count``: predictions of the active models made before kickoff (the ones ranked);
    ``retro_count``: retroactive ones of the active models; ``active_count``: the gap threshold;
    ``pending_count``: predictions not yet scored or voided;
    ``analysis_pk``: its latest valid analysis (as of kickoff or earlier), None without one.
    """
    active = Q(predictions__model__is_active=True)
    return matches.annotate(
        pre_kickoff_count=Count("predictions", filter=active & Q(predictions__is_retroactive=False)),
        retro_count=Count("predictions", filter=active & Q(predictions__is_retroactive=True)),
        pending_count=Count("predictions", filter=Q(predictions__status=Prediction.Status.PENDING)),
        active_count=active_model_count_subquery(),
        analysis_pk=Subquery(
            MatchAnalysis.objects.filter(match=OuterRef("pk"), as_of__lte=OuterRef("kickoff_time"))
            .order_by("-as_of", "-pk").values("pk")[:1]
        ),
    )


def missing_predictions(matches: QuerySet[Match]) -> QuerySet[Match]:
    """Annotated matches with fewer predictions of the active models than there are active models."""
    return matches.filter(active_count__gt=F("pre_kickoff_count") + F("retro_count"))


def not_settled(matches: QuerySet[Match]) -> QuerySet[Match]:
    """Annotated finished matches whose result was never settled, or with predictions still pending."""
    return matches.filter(status=Match.Status.FINISHED).filter(Q(settled_at__isnull=True) | Q(pending_count__gt=0))


def missing_analysis(matches: QuerySet[Match]) -> QuerySet[Match]:
    return matches.filter(analysis_pk__isnull=True)


def retroactive_only(matches: QuerySet[Match]) -> QuerySet[Match]:
    """Annotated matches predicted, but only at or after kickoff: nothing of theirs is ranked."""
    return matches.filter(retro_count__gt=0, pre_kickoff_count=0)


@dataclass(frozen=True)
class NextStep:
    """The next thing the pipeline owes a match; ``at`` None means it is already late (a backfill's job)."""

    what: str
    at: datetime | None


def next_step(*, match: Match, now: datetime) -> NextStep | None:
    """From an annotated match: analysis at kickoff - ANALYSIS_LEAD, predictions at kickoff - PREDICTION_LEAD,
    settlement once finished; None when nothing is owed (done, or called off)."""
    if match.is_called_off:
        return None
    missing = match.active_count > match.pre_kickoff_count + match.retro_count
    if match.status == Match.Status.FINISHED:
        unsettled = match.has_score and (match.settled_at is None or match.pending_count > 0)
        if missing:
            return NextStep("backfill", None)
        return NextStep("settlement", now) if unsettled else None
    if match.kickoff_time <= now:
        return NextStep("backfill", None) if missing else None
    if match.analysis_pk is None:
        return NextStep("analysis", match.kickoff_time - settings.ANALYSIS_LEAD)
    if missing:
        return NextStep("predictions", match.kickoff_time - settings.PREDICTION_LEAD)
    return None


def field_tendency_counts(match: Match, *, settled_before: datetime) -> list[int]:
    """How the field tipped (home, draw, away) on the competition's matches kicked off before ``settled_before``.

    One query. The caller passes the leak guard's ``latest_result_kickoff(kickoff)``, so only
    matches over before kickoff count; the statistical models read the counts as
    ``_field_shares`` to estimate the quotas their tips will face.
    """
    rows = Prediction.objects.filter(
        match__competition_id=match.competition_id,
        match__kickoff_time__lt=settled_before,
        status=Prediction.Status.SCORED,
    ).aggregate(
        home=Count("pk", filter=Q(predicted_home__gt=F("predicted_away"))),
        draw=Count("pk", filter=Q(predicted_home=F("predicted_away"))),
        away=Count("pk", filter=Q(predicted_home__lt=F("predicted_away"))),
    )
    return [rows["home"], rows["draw"], rows["away"]]
