"""The demo: after the backfill every eligible match is complete and settled; a second run changes nothing."""

import pytest
from django.core.management import call_command

from backfill.demo import seed_demo
from matches.models import Match
from predictions.models import Prediction, PredictionModel
from predictions.scoring import calculate_quotas

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(in_process, settings, tmp_path):
    settings.BACKFILL_REPORT_DIR = tmp_path
    return seed_demo()


def test_demo_is_a_replay_with_every_kind_of_damage(demo):
    assert demo.matches == 3 * 380 and demo.shift_days > 0
    assert all(demo.damage[kind] for kind in ("complete", "partial", "no_predictions", "no_analysis"))
    assert Match.objects.get(pk=demo.damage["cancelled"][0]).status == "cancelled"
    assert Match.objects.get(pk=demo.damage["live"][0]).status == "live"
    assert set(PredictionModel.objects.filter(is_active=True).values_list("provider", flat=True)) == {
        "dixon_coles", "elo", "fixed_score", "most_frequent"
    }


def test_demo_backfill_completes_the_window_and_a_second_run_changes_nothing(demo):
    active = PredictionModel.objects.filter(is_active=True).count()
    call_command("backfill_retroactive", "--days", "7")
    eligible = [pk for kind in ("complete", "partial", "no_predictions", "no_analysis", "live")
                for pk in demo.damage[kind]]
    for pk in eligible:
        match = Match.objects.get(pk=pk)
        preds = Prediction.objects.filter(match=match)
        assert preds.filter(model__is_active=True).count() == active
        if match.status == "finished":
            assert set(preds.values_list("status", flat=True)) == {"scored"}
            quotas = calculate_quotas(preds.values_list("predicted_home", "predicted_away"))
            assert (match.quota_home, match.quota_draw, match.quota_away) == tuple(quotas)
    backfilled = Prediction.objects.filter(match_id__in=demo.damage["no_predictions"])
    assert backfilled.exists() and all(backfilled.values_list("is_retroactive", flat=True))
    assert not Prediction.objects.filter(match_id__in=demo.damage["cancelled"]).exists()

    before = list(Prediction.objects.order_by("pk").values_list("pk", "total_points", "scored_at"))
    call_command("backfill_retroactive", "--days", "7")
    assert list(Prediction.objects.order_by("pk").values_list("pk", "total_points", "scored_at")) == before


def test_seed_demo_twice_replaces_the_first_demo(demo):
    again = seed_demo()
    assert again.matches == 3 * 380 and Match.objects.count() == 3 * 380


def test_seed_demo_refuses_a_database_with_other_matches(in_process):
    from django.core.management import CommandError

    from tests.factories import MatchFactory

    real = MatchFactory()
    with pytest.raises(CommandError, match="not this demo's"):
        call_command("seed_demo")
    assert list(Match.objects.values_list("pk", flat=True)) == [real.pk]


def test_seed_demo_refuses_an_unknown_league(in_process):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--league must be one of"):
        call_command("seed_demo", "--league", "xx.9")
    assert not Match.objects.exists()


def test_seed_demo_accepts_vendored_history_loaded_before(in_process):
    call_command("load_openfootball", "--league", "en.1", "--season", "2024-25")
    result = seed_demo()
    assert result.matches == 3 * 380 and Match.objects.filter(external_id__isnull=True).count() == 0
