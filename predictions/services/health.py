"""Per-model health: a circuit breaker that deactivates a model after repeated failures.

Bulk updates keep predict_match's query count constant in the number of models.
"""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from predictions.models import PredictionModel
from predictions.services.lineup import activation_refusal


def record_outcomes(successes: Iterable[int], failures: Mapping[int, str]) -> set[int]:
    """One job's health writes, in a transaction of their own; returns the ids whose breaker tripped.

    Concurrent predict jobs touch overlapping model rows in different roles (a success here, a
    failure there): locking them all first, in pk order, is what keeps two jobs from deadlocking.
    FOR NO KEY UPDATE, because the jobs' prediction inserts hold KEY SHARE locks on the same rows.
    """
    successes = list(successes)
    ids = sorted(set(successes) | set(failures))
    if not ids:
        return set()
    with transaction.atomic():
        list(PredictionModel.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
             .values_list("pk", flat=True))
        record_successes(successes)
        return record_failures(failures)


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
    # An account without credit or quota fails every call until someone pays: switch it off at once.
    at_once = breaker_trips(reasons)
    to_trip = PredictionModel.objects.filter(
        Q(consecutive_failures__gte=threshold) | Q(pk__in=list(at_once)), pk__in=list(reasons), is_active=True
    )
    tripped = set(to_trip.values_list("pk", flat=True))
    if tripped:
        PredictionModel.objects.filter(pk__in=tripped).update(
            is_active=False,
            disabled_at=now,
            inactive_reason=Case(
                *(When(pk=pk, then=Value(_breaker_reason(threshold, reasons[pk], pk in at_once))) for pk in tripped)
            ),
        )
    return tripped


def breaker_trips(reasons: Mapping[int, str]) -> dict[int, str]:
    """The failures that trip the breaker at once (an account problem), whatever the count."""
    return {pk: reason for pk, reason in reasons.items() if getattr(reason, "trips_breaker", False)}


def _breaker_reason(threshold: int, last_error: str, at_once: bool = False) -> str:
    if at_once:
        return f"circuit breaker: account problem, switched off at once; {last_error[:300]}"
    return f"circuit breaker: {threshold} consecutive failures; last: {last_error[:300]}"


def reenable_models(queryset: QuerySet[PredictionModel]) -> tuple[int, list[tuple[PredictionModel, str]]]:
    """Reset the breaker of the selected models; returns (re-enabled, [(refused model, why)]).

    The same rule as sync_models decides who may be switched on (``activation_refusal``).
    """
    refused = [(m, why) for m in queryset if (why := activation_refusal(model=m))]
    count = queryset.exclude(pk__in=[m.pk for m, _ in refused]).update(
        is_active=True, consecutive_failures=0, disabled_at=None, inactive_reason="", updated_at=timezone.now()
    )
    return count, refused


def reset_breaker(model: PredictionModel) -> None:
    """What switching a model back on means: a fresh breaker and no reason to be off (not saved here)."""
    model.is_active = True
    model.consecutive_failures = 0
    model.disabled_at = None
    model.inactive_reason = ""
