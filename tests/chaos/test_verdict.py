"""The chaos demo's verdict: a gap left, a duplicate or a misflagged row fails it (exit 1)."""

from types import SimpleNamespace

import pytest

from chaos import measure
from chaos.scenario import Outcome

pytestmark = pytest.mark.django_db


def _outcome(**changes) -> Outcome:
    outcome = Outcome(mode="in-process", replay={}, schedule={})
    outcome.chaos = {"llm_failed": {"still_active": True}}
    outcome.gaps_before = {"matches": 2, "missing_predictions": 7, "settlements": 2, "by_match": []}
    outcome.gaps_after = {"matches": 0, "missing_predictions": 0, "settlements": 0, "by_match": []}
    outcome.backfill = {"filled": 7}
    outcome.predictions = {"total": 60, "scored": 60, "duplicates": 0, "misflagged": 0}
    for name, value in changes.items():
        getattr(outcome, name).update(value)
    return outcome


NO_MATCHES = SimpleNamespace(match_ids=())


def test_a_complete_repair_passes():
    assert measure.problems(_outcome(), NO_MATCHES) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"gaps_after": {"matches": 1, "missing_predictions": 1, "settlements": 1}}, "still missing"),
        ({"predictions": {"duplicates": 1}}, "predicted twice"),
        ({"predictions": {"misflagged": 2}}, "flagged against their writer's clock"),
        ({"backfill": {"filled": 6}}, "filled 6 of 7"),
        ({"gaps_before": {"matches": 0, "missing_predictions": 0}, "backfill": {"filled": 0}}, "left no gap"),
        ({"chaos": {"llm_failed": {"still_active": False}}}, "circuit breaker"),
    ],
)
def test_anything_left_duplicated_or_misflagged_fails_the_demo(changes, expected):
    found = measure.problems(_outcome(**changes), NO_MATCHES)
    assert len(found) == 1 and expected in found[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--round", "Matchday 99"], "no played round 'Matchday 99'"),
        (["--round", "Matchday 38"], "needs 3 or more"),
    ],
)
def test_a_round_the_demo_cannot_use_exits_2_and_changes_nothing(args, says):
    from django.core.management import CommandError, call_command

    from matches.models import Match

    with pytest.raises(CommandError, match=says) as raised:
        call_command("chaos_demo", *args)
    assert raised.value.returncode == 2 and not Match.objects.exists()


def test_a_database_with_synced_fixtures_is_refused_with_exit_2():
    from django.core.management import CommandError, call_command

    from predictions.models import PredictionModel
    from tests.factories import MatchFactory, PredictionModelFactory

    MatchFactory(external_id=1234)
    PredictionModelFactory(slug="real-llm", provider="openai_compatible")

    with pytest.raises(CommandError, match="run it on a demo database") as raised:
        call_command("chaos_demo")
    assert raised.value.returncode == 2 and PredictionModel.objects.get(slug="real-llm").is_active
