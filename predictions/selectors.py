"""Read-only queries of the predictions app."""

from django.db.models import Count, IntegerField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from predictions.models import PredictionModel


def active_models() -> QuerySet[PredictionModel]:
    return PredictionModel.objects.filter(is_active=True)


def active_model_count_subquery() -> Coalesce:
    """The gap threshold (computed from the lineup, never a constant), as a scalar subquery."""
    counted = active_models().order_by().annotate(one=Value(1)).values("one").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)
