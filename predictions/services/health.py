"""Per-model health: a circuit breaker that deactivates a model after repeated failures."""

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from predictions.models import PredictionModel


def record_success(model_id: int) -> None:
    PredictionModel.objects.filter(pk=model_id).update(
        consecutive_failures=0, last_success_at=timezone.now(), updated_at=timezone.now()
    )


def record_failure(model_id: int, reason: str) -> bool:
    """Count a failure; returns True when this failure tripped the breaker."""
    threshold = settings.MODEL_FAILURE_THRESHOLD
    now = timezone.now()
    PredictionModel.objects.filter(pk=model_id).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=reason[:2000], updated_at=now
    )
    tripped = PredictionModel.objects.filter(
        pk=model_id, is_active=True, consecutive_failures__gte=threshold
    ).update(
        is_active=False,
        disabled_at=now,
        inactive_reason=f"circuit breaker: {threshold} consecutive failures; last: {reason[:300]}",
    )
    return bool(tripped)


def reenable_models(queryset: QuerySet[PredictionModel]) -> int:
    return queryset.update(
        is_active=True, consecutive_failures=0, disabled_at=None, inactive_reason="", updated_at=timezone.now()
    )
