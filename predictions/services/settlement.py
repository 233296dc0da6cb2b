"""Settlement: a pure function of (the result that counts, full prediction set), run under row locks.

The result is ``matches.results.counted_result`` of the match's period scores under its
competition's ``result_rule``, so a knockout settles as the competition says.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from matches.models import Match
from matches.results import counted_result
from predictions.models import Prediction
from predictions.scoring import NO_POINTS, Quotas, ScoreBreakdown, calculate_quotas, score_prediction

logger = logging.getLogger(__name__)

_POINT_FIELDS = ("status", "tendency_points", "goal_diff_bonus", "exact_score_bonus", "total_points", "scored_at")


class SettlementRefused(Exception):
    """The match cannot be settled (yet); the message says why."""


@dataclass
class SettlementResult:
    match_id: int
    outcome: str  # "scored", "voided" or "no_predictions"
    predictions: int = 0
    changed: int = 0
    quotas: Quotas | None = None
    detail: str = ""
    points: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "match_id": self.match_id,
            "outcome": self.outcome,
            "predictions": self.predictions,
            "changed": self.changed,
            "quotas": self.quotas._asdict() if self.quotas else None,
            "detail": self.detail,
        }


def _apply(prediction: Prediction, status: str, breakdown: ScoreBreakdown, now) -> bool:
    """Write the breakdown onto the prediction; True when anything changed."""
    new = {
        "status": status,
        "tendency_points": breakdown.tendency_points,
        "goal_diff_bonus": breakdown.goal_diff_bonus,
        "exact_score_bonus": breakdown.exact_score_bonus,
        "total_points": breakdown.total,
    }
    if all(getattr(prediction, name) == value for name, value in new.items()):
        return False
    for name, value in new.items():
        setattr(prediction, name, value)
    prediction.scored_at = now
    return True


def settle_match(match_id: int) -> SettlementResult:
    """Score every prediction of a finished match under quotas of the whole set.

    Safe to run any number of times and concurrently: the match row and its
    predictions are locked, and a call that finds nothing to change writes nothing.
    """
    with transaction.atomic():
        try:
            match = Match.objects.select_for_update().select_related("competition").get(pk=match_id)
        except Match.DoesNotExist:
            raise SettlementRefused(f"match {match_id} does not exist") from None
        predictions = list(Prediction.objects.select_for_update().filter(match_id=match_id).order_by("pk"))
        now = timezone.now()

        if match.is_called_off:
            changed = [p for p in predictions if _apply(p, Prediction.Status.VOID, NO_POINTS, now)]
            Prediction.objects.bulk_update(changed, _POINT_FIELDS)
            # A match scored before it was called off is no longer settled: its quotas describe nothing,
            # and if it is rescheduled and played it is settled afresh.
            if (match.quota_home, match.quota_draw, match.quota_away, match.settled_at) != (None,) * 4:
                match.quota_home = match.quota_draw = match.quota_away = match.settled_at = None
                match.save(update_fields=["quota_home", "quota_draw", "quota_away", "settled_at", "updated_at"])
            logger.info("voided predictions", extra={"match_id": match_id, "changed": len(changed)})
            return SettlementResult(
                match_id, "voided", len(predictions), len(changed), detail=f"match is {match.status}"
            )
        if match.status != Match.Status.FINISHED:
            raise SettlementRefused(f"match {match_id} is {match.status}, not finished")
        rule = match.competition.result_rule
        result = counted_result(match, rule)
        if result is None:
            raise SettlementRefused(f"match {match_id} is finished but has no final score under the rule {rule}")
        if (match.home_score, match.away_score) != result:
            # The rule changed since the result was stored: the stored result follows it.
            match.home_score, match.away_score = result
            match.save(update_fields=["home_score", "away_score", "updated_at"])
        if not predictions:
            return SettlementResult(match_id, "no_predictions", detail="no predictions to settle")

        quotas = calculate_quotas((p.predicted_home, p.predicted_away) for p in predictions)
        changed = []
        for p in predictions:
            breakdown = score_prediction(p.predicted_home, p.predicted_away, *result, quotas)
            if _apply(p, Prediction.Status.SCORED, breakdown, now):
                changed.append(p)
        Prediction.objects.bulk_update(changed, _POINT_FIELDS)
        if (match.quota_home, match.quota_draw, match.quota_away) != tuple(quotas) or match.settled_at is None:
            match.quota_home, match.quota_draw, match.quota_away = quotas
            match.settled_at = now
            match.save(update_fields=["quota_home", "quota_draw", "quota_away", "settled_at", "updated_at"])
        logger.info(
            "settled match",
            extra={"match_id": match_id, "predictions": len(predictions), "changed": len(changed)},
        )
        return SettlementResult(
            match_id,
            "scored",
            len(predictions),
            len(changed),
            quotas,
            points={p.model_id: p.total_points for p in predictions},
        )
