"""A small scene for the leaderboard's admin tests: three honest models, one cheat, two leagues, five weeks."""

import random
from datetime import timedelta

from django.utils import timezone

from predictions.models import Prediction
from tests.factories import CompetitionFactory, MatchFactory, PredictionFactory, PredictionModelFactory


def _points(rng: random.Random) -> int:
    roll = rng.random()
    return 0 if roll < 0.5 else rng.choice([2, 3, 4]) if roll < 0.9 else rng.choice([5, 6, 7])


def build_scene() -> dict:
    rng = random.Random(7)
    en, de = CompetitionFactory(code="en.1", season=2024), CompetitionFactory(code="de.1", season=2024)
    models = {slug: PredictionModelFactory(slug=slug, name=slug.title()) for slug in ("alpha", "beta", "cheat")}
    only_en = PredictionModelFactory(slug="england-only", name="England only")
    now = timezone.now()
    for i in range(60):
        competition = en if i % 2 else de
        match = MatchFactory(finished=True, competition=competition, kickoff_time=now - timedelta(days=35 - i // 2))
        for slug, model in models.items():
            retro = i % 3 == 0
            points = rng.choice([5, 6, 7]) if slug == "cheat" and retro else _points(rng) + (slug == "alpha")
            PredictionFactory(model=model, match=match, status=Prediction.Status.SCORED, total_points=points,
                              tendency_points=min(points, 4), is_retroactive=retro)
        if competition == en:
            points = 2 * (i % 4 // 2)  # 0 or 2: the weakest model, with some spread
            PredictionFactory(model=only_en, match=match, status=Prediction.Status.SCORED, total_points=points,
                              tendency_points=points)
    return {"models": {**models, "england-only": only_en}}
