"""The demo world: real openfootball results replayed near today, with realistic pipeline damage.

Everything is real except the dates: seasons are shifted by whole days so the
latest real matchweek falls within the last 7 days, and matches get synthetic
API-Football ids so the backfill treats them like synced fixtures.
"""

import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backfill.models import BackfillRun
from matches.jobs import analyze_match
from matches.models import Competition, Match
from matches.openfootball import load_season, seasons_of
from matches.services.openfootball_import import import_season
from predictions.models import Prediction, PredictionModel
from predictions.providers.base import predict_versioned
from predictions.providers.registry import build_predictor
from predictions.services import settle_match
from predictions.services.generation import build_context
from predictions.services.lineup import sync_lineup

logger = logging.getLogger(__name__)

DEMO_LEAGUE = "en.1"
DEMO_EXTERNAL_ID_BASE = 70_000_000
# pipeline.replay.replay_code's prefix (the backfill never imports the pipeline).
REPLAY_CODE_PREFIX = "replay-"
LOCAL_PROVIDERS = ("dixon_coles", "elo", "fixed_score", "most_frequent")


@dataclass
class DemoResult:
    league: str
    shift_days: int
    matches: int
    window_matches: int
    damage: dict[str, list[int]] = field(default_factory=dict)
    active_models: list[str] = field(default_factory=list)


class DemoRefused(Exception):
    """The database holds more than an earlier demo; seeding would replace real data."""


def foreign_matches(league: str = DEMO_LEAGUE) -> int:
    """Fixtures synced from API-Football (they have a fixture id that is not a demo id).

    Vendored openfootball imports carry no fixture id and are fair game: the demo reloads them. So are
    replayed matchdays (competitions coded ``replay-*``, with fixture ids of the replay's own range).
    """
    return (
        Match.objects.filter(external_id__isnull=False)
        .exclude(competition__code=league, external_id__gt=DEMO_EXTERNAL_ID_BASE)
        .exclude(competition__code__startswith=REPLAY_CODE_PREFIX)
        .count()
    )


def seeded_matches(league: str = DEMO_LEAGUE) -> int:
    """Matches an earlier demo seeded (so a second ``scripts/demo`` can reuse them)."""
    return Match.objects.filter(competition__code=league, external_id__gt=DEMO_EXTERNAL_ID_BASE).count()


def _wipe(code: str) -> None:
    competitions = Competition.objects.filter(code=code)
    BackfillRun.objects.filter(items__match__competition__in=competitions).distinct().delete()
    Match.objects.filter(competition__in=competitions).delete()
    competitions.delete()


def activate_local_lineup() -> list[str]:
    sync_lineup()
    PredictionModel.objects.exclude(provider__in=LOCAL_PROVIDERS).update(
        is_active=False, inactive_reason="demo: only the local statistical models run offline"
    )
    return list(PredictionModel.objects.filter(is_active=True).values_list("slug", flat=True))


def _predict_before_kickoff(match: Match, models: list[PredictionModel]) -> None:
    """What the live pipeline would have stored before kickoff, for the models that 'succeeded'."""
    analysis = match.analysis
    context = build_context(match, analysis)
    rows = []
    for model in models:
        tip = predict_versioned(build_predictor(model), context)
        rows.append(Prediction(match=match, model=model, analysis=analysis, predicted_home=tip.home,
                               predicted_away=tip.away, is_retroactive=False, prompt_version=tip.version))
    Prediction.objects.bulk_create(rows)
    Prediction.objects.filter(match=match).update(created_at=match.kickoff_time - timedelta(hours=2))


def seed_demo(now: datetime | None = None, league: str = DEMO_LEAGUE, *, force: bool = False) -> DemoResult:
    """Replace any earlier demo of ``league``; refuse on a database holding other matches unless forced."""
    if not force and (foreign := foreign_matches(league)):
        raise DemoRefused(
            f"the database holds {foreign} match(es) synced from API-Football that are not this demo's; "
            f"seed_demo replaces the {league} data, so run it on a demo database (or pass --force)"
        )
    now = now or timezone.now()
    latest = load_season(league, seasons_of(league)[-1]).matches[-1].kickoff_time
    shift_days = ((now - timedelta(days=1)).date() - latest.date()).days
    shift = timedelta(days=shift_days)
    ids = itertools.count(DEMO_EXTERNAL_ID_BASE + 1)
    with transaction.atomic():
        _wipe(league)
        total = sum(
            import_season(league, season, shift=shift, external_id=lambda _row: next(ids)).matches_created
            for season in seasons_of(league)
        )
        active = activate_local_lineup()
    models = list(PredictionModel.objects.filter(is_active=True).order_by("pk"))
    window = list(
        Match.objects.filter(competition__code=league, kickoff_time__gte=now - timedelta(days=7), kickoff_time__lte=now)
        .select_related("competition", "home_team", "away_team")
        .order_by("kickoff_time", "pk")
    )
    damage: dict[str, list[int]] = {"complete": [], "partial": [], "no_predictions": [], "no_analysis": [],
                                     "cancelled": [], "live": []}
    live, cancelled, rest = window[-1], window[0], window[1:-1]
    Match.objects.filter(pk=live.pk).update(
        kickoff_time=now - timedelta(minutes=50), status=Match.Status.LIVE, status_code="2H",
        home_score=None, away_score=None,
    )
    Match.objects.filter(pk=cancelled.pk).update(
        status=Match.Status.CANCELLED, status_code="CANC", home_score=None, away_score=None
    )
    damage["live"].append(live.pk)
    damage["cancelled"].append(cancelled.pk)
    kinds = itertools.cycle(["complete", "partial", "no_predictions", "no_analysis"])
    for match, kind in zip(rest, kinds, strict=False):
        damage[kind].append(match.pk)
        if kind == "no_analysis":
            continue
        analyze_match(match.pk)
        if kind == "complete":
            _predict_before_kickoff(match, models)
            settle_match(match.pk)
        elif kind == "partial":
            _predict_before_kickoff(match, models[: max(1, len(models) // 2)])
    logger.info("demo seeded", extra={"shift_days": shift_days, "matches": total})
    return DemoResult(league, shift_days, total, len(window), damage, active)
