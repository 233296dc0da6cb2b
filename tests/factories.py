"""factory-boy factories for every model."""

from datetime import UTC, datetime, timedelta

import factory
from django.utils import timezone

from backfill.models import BackfillItem, BackfillRun
from matches.models import Competition, Match, MatchAnalysis, Team
from predictions.models import Prediction, PredictionModel


class CompetitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Competition

    external_id = factory.Sequence(lambda n: 1000 + n)
    name = factory.Sequence(lambda n: f"League {n}")
    country = "England"
    season = 2024


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    external_id = factory.Sequence(lambda n: 5000 + n)
    name = factory.Sequence(lambda n: f"Team {n} FC")


class MatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Match

    external_id = factory.Sequence(lambda n: 900000 + n)
    competition = factory.SubFactory(CompetitionFactory)
    home_team = factory.SubFactory(TeamFactory)
    away_team = factory.SubFactory(TeamFactory)
    kickoff_time = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    status = Match.Status.SCHEDULED
    status_code = "NS"
    round = "Regular Season - 1"

    class Params:
        finished = factory.Trait(status=Match.Status.FINISHED, status_code="FT", home_score=1, away_score=0)


class MatchAnalysisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MatchAnalysis

    match = factory.SubFactory(MatchFactory)
    as_of = factory.LazyAttribute(lambda o: o.match.kickoff_time)
    data = factory.LazyFunction(lambda: {"schema": 1, "history": []})


class PredictionModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PredictionModel

    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    provider = PredictionModel.Provider.FIXED_SCORE
    config = factory.LazyFunction(lambda: {"home": 2, "away": 1})
    is_active = True


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    match = factory.SubFactory(MatchFactory)
    model = factory.SubFactory(PredictionModelFactory)
    predicted_home = 1
    predicted_away = 0


class BackfillRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackfillRun

    triggered_by = "test"
    days = 7


class BackfillItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackfillItem

    run = factory.SubFactory(BackfillRunFactory)
    match = factory.SubFactory(MatchFactory)
    stages = factory.LazyFunction(lambda: ["predict"])
    stage = BackfillItem.Stage.PREDICT


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class LLMPredictionModelFactory(PredictionModelFactory):
    """An openai_compatible lineup entry; tests point ``base_url`` at the fake LLM server."""

    provider = PredictionModel.Provider.OPENAI_COMPATIBLE
    config = factory.LazyFunction(
        lambda: {"model": "fake/model", "base_url_setting": "TOGETHER_BASE_URL", "api_key_env": "TOGETHER_API_KEY"}
    )
