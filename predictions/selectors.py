"""Read-only queries of the predictions app."""

from datetime import datetime

from django.db.models import Count, F, IntegerField, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from matches.models import Match
from predictions.models import Prediction, PredictionModel


def active_models() -> QuerySet[PredictionModel]:
    return PredictionModel.objects.filter(is_active=True)


def active_model_count_subquery() -> Coalesce:
    """The gap threshold (computed from the lineup, never a constant), as a scalar subquery."""
    counted = active_models().order_by().annotate(one=Value(1)).values("one").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)


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
