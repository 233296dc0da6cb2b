"""What is due at ``now``: each tick step reads its matches here (reads only)."""

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from matches.models import Match, MatchAnalysis
from predictions.models import Prediction
from predictions.selectors import active_models

OPEN = (Match.Status.SCHEDULED, Match.Status.LIVE)


def _matches() -> QuerySet[Match]:
    return Match.objects.select_related("home_team", "away_team").order_by("kickoff_time", "pk")


def has_valid_analysis() -> Exists:
    """Analysis lineage: any version as of no later than kickoff counts."""
    return Exists(MatchAnalysis.objects.filter(match_id=OuterRef("pk"), as_of__lte=OuterRef("kickoff_time")))


def lacks_a_prediction() -> Exists:
    """Some active model has no prediction of the match (the threshold is the active lineup, computed)."""
    return Exists(
        active_models().filter(
            ~Exists(Prediction.objects.filter(match_id=OuterRef(OuterRef("pk")), model_id=OuterRef("pk")))
        )
    )


def due_for_analysis(now: datetime) -> list[Match]:
    """Scheduled matches kicking off within ANALYSIS_LEAD that have no valid analysis yet."""
    return list(
        _matches().filter(
            ~has_valid_analysis(),
            status=Match.Status.SCHEDULED,
            kickoff_time__gt=now,
            kickoff_time__lte=now + settings.ANALYSIS_LEAD,
        )
    )


def due_for_prediction(now: datetime) -> list[Match]:
    """Scheduled matches kicking off within PREDICTION_LEAD, strictly after ``now``, missing a prediction."""
    return list(
        _matches().filter(
            lacks_a_prediction(),
            status=Match.Status.SCHEDULED,
            kickoff_time__gt=now,
            kickoff_time__lte=now + settings.PREDICTION_LEAD,
        )
    )


def due_for_polling(now: datetime) -> list[Match]:
    """Live or past-kickoff matches not finished, up to STUCK_AFTER past kickoff."""
    return list(
        _matches().filter(status__in=OPEN, kickoff_time__lte=now, kickoff_time__gt=now - settings.STUCK_AFTER)
    )


def stuck(now: datetime) -> list[Match]:
    """Matches still not finished STUCK_AFTER past kickoff (chased for STUCK_GIVE_UP_AFTER)."""
    return list(
        _matches().filter(
            status__in=OPEN,
            kickoff_time__lte=now - settings.STUCK_AFTER,
            kickoff_time__gt=now - settings.STUCK_GIVE_UP_AFTER,
        )
    )


def due_for_settlement() -> list[Match]:
    """Every match whose predictions disagree with its outcome, however the result arrived."""
    unscored = Exists(Prediction.objects.filter(match_id=OuterRef("pk")).exclude(status=Prediction.Status.SCORED))
    unvoided = Exists(Prediction.objects.filter(match_id=OuterRef("pk")).exclude(status=Prediction.Status.VOID))
    return list(
        _matches().filter(
            Q(unscored, status=Match.Status.FINISHED, home_score__isnull=False, away_score__isnull=False)
            | Q(unvoided, status__in=Match.CALLED_OFF)
        )
    )
