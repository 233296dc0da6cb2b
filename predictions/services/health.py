"""Per-model health: a circuit breaker that deactivates a model after repeated failures.

Bulk updates keep predict_match's query count constant in the number of models.
"""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from predictions.models import PredictionModel


def record_successes(model_ids: Iterable[int]) -> None:
    ids = list(model_ids)
    if ids:
        now = timezone.now()
        PredictionModel.objects.filter(pk__in=ids).update(
            consecutive_failures=0, last_success_at=now, updated_at=now
        )


def record_failures(reasons: Mapping[int, str]) -> set[int]:
    """Count one failure per model; returns the ids whose breaker this tripped."""
    if not reasons:
        return set()
    threshold = settings.MODEL_FAILURE_THRESHOLD
    now = timezone.now()
    PredictionModel.objects.filter(pk__in=list(reasons)).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=Case(*(When(pk=pk, then=Value(reason[:2000])) for pk, reason in reasons.items())),
        updated_at=now,
    )
    to_trip = PredictionModel.objects.filter(pk__in=list(reasons), is_active=True, consecutive_failures__gte=threshold)
    tripped = set(to_trip.values_list("pk", flat=True))
    if tripped:
        PredictionModel.objects.filter(pk__in=tripped).update(
            is_active=False,
            disabled_at=now,
            inactive_reason=Case(
                *(When(pk=pk, then=Value(_breaker_reason(threshold, reasons[pk]))) for pk in tripped)
            ),
        )
    return tripped


def _breaker_reason(threshold: int, last_error: str) -> str:
    return f"circuit breaker: {threshold} consecutive failures; last: {last_error[:300]}"


def reenable_models(queryset: QuerySet[PredictionModel]) -> int:
    return queryset.update(
        is_active=True, consecutive_failures=0, disabled_at=None, inactive_reason="", updated_at=timezone.now()
    )
