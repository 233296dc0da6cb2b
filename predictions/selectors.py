"""Read-only queries of the predictions app."""

from django.db.models import QuerySet

from predictions.models import PredictionModel


def active_models() -> QuerySet[PredictionModel]:
    return PredictionModel.objects.filter(is_active=True)


def active_model_count() -> int:
    """The gap threshold: computed from the lineup, never a constant."""
    return active_models().count()
