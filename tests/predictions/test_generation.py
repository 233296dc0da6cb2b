"""generate_predictions: only missing models, idempotent, concurrent-safe, keeps partial successes."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matches.models import Match
from predictions.models import Prediction, PredictionModel
from predictions.providers.base import PredictionFailed, Tip
from predictions.services import PredictionRefused, generate_predictions
from tests.concurrency import run_at_once
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


class ScriptedPredictor:
    """Tips from the model's config; config {"fail": "..."} makes it fail with that reason."""

    calls: list[str] = []

    def __init__(self, model: PredictionModel, delay: float = 0.0):
        self.model, self.delay = model, delay

    def predict(self, context):
        ScriptedPredictor.calls.append(self.model.slug)
        time.sleep(self.delay)
        if "fail" in self.model.config:
            raise PredictionFailed(self.model.config["fail"])
        if "crash" in self.model.config:
            raise RuntimeError("bug in predictor")
        return Tip(self.model.config["home"], self.model.config["away"])


@pytest.fixture(autouse=True)
def _reset_calls():
    ScriptedPredictor.calls = []


def _analysed_match(**kwargs):
    """Before kickoff by default: without allow_retroactive only an upcoming match is predicted."""
    kwargs.setdefault("kickoff_time", timezone.now() + timedelta(hours=2))
    return MatchAnalysisFactory(match=MatchFactory(**kwargs)).match


def test_creates_one_prediction_per_active_model_linked_to_the_analysis():
    match = _analysed_match()
    PredictionModelFactory.create_batch(3)
    PredictionModelFactory(is_active=False)
    result = generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    assert result.created == 3
    preds = Prediction.objects.filter(match=match)
    assert preds.count() == 3
    assert {p.analysis_id for p in preds} == {match.analysis.pk}
    assert {(p.predicted_home, p.predicted_away) for p in preds} == {(2, 1)}


def test_runs_only_the_missing_models_and_twice_creates_nothing():
    match = _analysed_match()
    done, *_ = PredictionModelFactory.create_batch(3)
    PredictionFactory(match=match, model=done)
    first = generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    assert first.created == 2 and done.slug not in ScriptedPredictor.calls
    second = generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    assert second.created == 0 and len(second.ids_with("skipped")) == 3
    assert Prediction.objects.filter(match=match).count() == 3
    assert len(ScriptedPredictor.calls) == 2


def test_one_failing_model_keeps_the_others_and_reports_its_reason():
    match = _analysed_match()
    PredictionModelFactory.create_batch(2)
    bad = PredictionModelFactory(config={"fail": "reply was not JSON"})
    crashing = PredictionModelFactory(config={"crash": True})
    result = generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    assert result.created == 2
    assert result.outcomes[bad.pk].status == "failed" and result.outcomes[bad.pk].reason == "reply was not JSON"
    assert "bug in predictor" in result.outcomes[crashing.pk].reason
    bad.refresh_from_db()
    assert bad.consecutive_failures == 1 and bad.last_error == "reply was not JSON" and bad.is_active


def test_circuit_breaker_disables_a_model_after_repeated_failures(settings):
    settings.MODEL_FAILURE_THRESHOLD = 2
    bad = PredictionModelFactory(config={"fail": "timeout"})
    for _ in range(2):
        result = generate_predictions(_analysed_match().pk, predictor_factory=ScriptedPredictor)
    bad.refresh_from_db()
    assert not bad.is_active and bad.disabled_at is not None and "2 consecutive failures" in bad.inactive_reason
    assert result.disabled == [bad.slug]


def test_local_models_on_a_league_with_no_history_yet_predict_and_never_trip_the_breaker(settings):
    """The first matchday of a newly synced league (or a cup): the real statistical models tip from
    the league prior, so the breaker never switches them off for everyone."""
    settings.MODEL_FAILURE_THRESHOLD = 2
    models = [PredictionModelFactory(provider=provider, config={})
              for provider in (PredictionModel.Provider.DIXON_COLES, PredictionModel.Provider.ELO)]
    for _ in range(3):
        result = generate_predictions(_analysed_match().pk)  # the factory's analysis: {"history": []}
        assert sorted(result.ids_with("created")) == sorted(m.pk for m in models) and result.failed == 0
    for model in models:
        model.refresh_from_db()
        assert model.is_active and model.consecutive_failures == 0
    assert Prediction.objects.count() == 6


def test_success_resets_the_failure_count():
    model = PredictionModelFactory(consecutive_failures=3, last_error="old")
    generate_predictions(_analysed_match().pk, predictor_factory=ScriptedPredictor)
    model.refresh_from_db()
    assert model.consecutive_failures == 0 and model.last_success_at is not None


def test_predictions_after_kickoff_are_retroactive_and_before_are_not():
    PredictionModelFactory()
    past = _analysed_match(kickoff_time=timezone.now() - timedelta(hours=2), status=Match.Status.FINISHED)
    future = _analysed_match(kickoff_time=timezone.now() + timedelta(hours=2))
    generate_predictions(past.pk, allow_retroactive=True, predictor_factory=ScriptedPredictor)
    generate_predictions(future.pk, predictor_factory=ScriptedPredictor)
    assert Prediction.objects.get(match=past).is_retroactive is True
    assert Prediction.objects.get(match=future).is_retroactive is False


@pytest.mark.parametrize("status", [Match.Status.FINISHED, Match.Status.LIVE])
def test_refuses_a_non_scheduled_match_unless_retroactive_and_keeps_its_status(status):
    PredictionModelFactory()
    match = _analysed_match(status=status)
    with pytest.raises(PredictionRefused, match="allow_retroactive"):
        generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    match.refresh_from_db()
    assert match.status == status and not Prediction.objects.exists()
    assert generate_predictions(match.pk, allow_retroactive=True, predictor_factory=ScriptedPredictor).created == 1


@pytest.mark.parametrize("status", [Match.Status.CANCELLED, Match.Status.POSTPONED])
def test_always_refuses_cancelled_and_postponed(status):
    PredictionModelFactory()
    match = _analysed_match(status=status)
    with pytest.raises(PredictionRefused, match="never predicted"):
        generate_predictions(match.pk, allow_retroactive=True, predictor_factory=ScriptedPredictor)
    assert not Prediction.objects.exists()


def test_requires_the_analysis():
    PredictionModelFactory()
    with pytest.raises(PredictionRefused, match="no analysis"):
        upcoming = MatchFactory(kickoff_time=timezone.now() + timedelta(hours=2))
        generate_predictions(upcoming.pk, predictor_factory=ScriptedPredictor)


def test_query_count_does_not_grow_with_the_number_of_models():
    counts = []
    for n in (2, 20):
        PredictionModel.objects.update(is_active=False)
        PredictionModelFactory.create_batch(n)
        PredictionModelFactory(config={"fail": "x"})
        match = _analysed_match()
        with CaptureQueriesContext(connection) as ctx:
            generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
        counts.append(len(ctx))
    assert counts[0] == counts[1]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_create_each_prediction_once():
    match = _analysed_match()
    PredictionModelFactory.create_batch(12)
    results = run_at_once(
        lambda: generate_predictions(match.pk, predictor_factory=lambda m: ScriptedPredictor(m, delay=0.05))
    )
    assert Prediction.objects.filter(match=match).count() == 12
    assert sum(r.created for r in results) == 12


def test_models_slower_than_the_budget_fail_and_the_others_are_saved(settings):
    settings.PREDICT_TIME_BUDGET = 0.3
    match = _analysed_match()
    fast = PredictionModelFactory()
    slow = PredictionModelFactory()
    result = generate_predictions(
        match.pk, predictor_factory=lambda m: ScriptedPredictor(m, delay=2.0 if m.pk == slow.pk else 0.0)
    )
    assert result.outcomes[fast.pk].status == "created"
    assert result.outcomes[slow.pk].status == "failed" and "budget" in result.outcomes[slow.pk].reason
    assert list(Prediction.objects.filter(match=match).values_list("model_id", flat=True)) == [fast.pk]


def test_refuses_an_analysis_made_as_of_after_kickoff():
    PredictionModelFactory()
    match = MatchFactory()
    MatchAnalysisFactory(match=match, as_of=match.kickoff_time + timedelta(hours=1))
    with pytest.raises(PredictionRefused, match="after its kickoff"):
        generate_predictions(match.pk, allow_retroactive=True, predictor_factory=ScriptedPredictor)
    assert not Prediction.objects.exists()


def test_without_allow_retroactive_a_match_past_kickoff_is_refused_and_keeps_its_status():
    PredictionModelFactory()
    match = _analysed_match(kickoff_time=timezone.now() - timedelta(seconds=1))
    with pytest.raises(PredictionRefused, match="has kicked off"):
        generate_predictions(match.pk, predictor_factory=ScriptedPredictor)
    assert not Prediction.objects.exists() and ScriptedPredictor.calls == []


def test_answers_that_arrive_after_kickoff_are_not_written_by_a_live_prediction():
    PredictionModelFactory()
    match = _analysed_match(kickoff_time=timezone.now() + timedelta(milliseconds=300))
    with pytest.raises(PredictionRefused, match="kicked off while its models answered"):
        generate_predictions(match.pk, predictor_factory=lambda m: ScriptedPredictor(m, delay=0.6))
    assert not Prediction.objects.exists()
