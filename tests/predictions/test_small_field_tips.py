"""In a small field a tip moves its own quota: the tip rule counts itself among the field's tips."""

from datetime import timedelta
from itertools import product

import numpy as np
import pytest

from predictions.models import PredictionModel
from predictions.providers.base import MatchContext, Tip
from predictions.providers.statistical import EloPredictor, dixon_coles
from predictions.providers.statistical.tipping import (
    best_tip,
    estimate_quotas,
    expected_points,
    expected_quotas,
    tendency_probabilities,
)
from predictions.scoring import Quotas, calculate_quotas, score_prediction
from predictions.services.evaluation import DEFAULT_LINEUP, Contender, evaluate
from predictions.services.generation import build_context
from tests.factories import CompetitionFactory, MatchAnalysisFactory, MatchFactory, PredictionModelFactory, utc

_TIP_OF = {0: (2, 1), 1: (1, 1), 2: (0, 1)}  # a representative score per tendency index


def _brute_force_quota(tendency: int, shares: tuple[float, float, float], size: int) -> float:
    """E[quota of ``tendency``] for our tip plus ``size - 1`` others, by enumerating every field and settling it."""
    total = 0.0
    for others in product(range(3), repeat=size - 1):
        chance = float(np.prod([shares[t] for t in others]))
        quotas = calculate_quotas([_TIP_OF[tendency]] + [_TIP_OF[t] for t in others])
        total += chance * quotas[tendency]
    return total


@pytest.mark.parametrize("size", [2, 4, 6])
def test_expected_quotas_are_what_settlement_pays_averaged_over_the_others_tips(size):
    shares = (0.55, 0.15, 0.30)
    values = expected_quotas(shares, size)
    for tendency in range(3):
        assert values[tendency] == pytest.approx(_brute_force_quota(tendency, shares, size))


def test_a_home_tip_beside_three_certain_home_tips_is_paid_the_minimum_and_a_lone_away_tip_4():
    home, draw, away = expected_quotas((1.0, 0.0, 0.0), 4)
    assert home == 2  # 4 of 4
    assert draw == away == 4  # 1 of 4: quota 6 / 2.5 - 0.6 + 2 = 3.8, rounded
    # shares alone (an infinitely large field) would pay the lone tip 6
    assert estimate_quotas(np.eye(3) / 3, (1.0, 0.0, 0.0)).away == 6


def test_expected_points_with_fractional_quotas_are_the_average_over_the_real_quotas():
    rng = np.random.default_rng(7)
    matrix = rng.random((8, 8))
    matrix /= matrix.sum()
    low, high = Quotas(2, 3, 4), Quotas(4, 5, 2)
    mixed = tuple(0.25 * a + 0.75 * b for a, b in zip(low, high, strict=True))
    assert expected_points(matrix, mixed) == pytest.approx(
        0.25 * expected_points(matrix, low) + 0.75 * expected_points(matrix, high)
    )
    brute = sum(matrix[h, a] * score_prediction(1, 0, h, a, low).total for h in range(8) for a in range(8))
    assert expected_points(matrix, low)[1, 0] == pytest.approx(brute)


def test_in_a_small_field_a_rare_tendency_is_not_paid_as_if_nobody_else_were_there():
    matrix = dixon_coles.score_matrix(1.6, 1.2, 0.0, 10)
    p_home, p_draw, _ = tendency_probabilities(matrix)
    assert p_home > p_draw
    field = [70, 10, 20]  # the field rarely tipped a draw on earlier matches
    large = best_tip(matrix, "field", field)
    small = best_tip(matrix, "field", field, field_size=4)
    # shares alone pay a draw 5 (the share of a tip in a crowd), so the draw looks best
    assert large.quotas[1] == 5 and large.home == large.away
    # in a field of four the draw tip is at least 1 of 4 (quota 4 at most): the likelier home win wins
    assert small.quotas[1] < 4 and small.home > small.away


def _context(field_size) -> MatchContext:
    kickoff = utc(2025, 3, 1, 15)
    history = [
        {"date": (kickoff - timedelta(days=3 * i + 3)).isoformat(), "home_id": i % 5 + 1, "away_id": (i + 2) % 5 + 1,
         "home_goals": i % 3, "away_goals": (i + 1) % 2}
        for i in range(60)
    ]
    analysis = {"history": history, "_field_shares": [90, 0, 10]}
    if field_size is not None:
        analysis["_field_size"] = field_size
    return MatchContext(match_id=1, kickoff_time=kickoff, competition="t", home_team_id=1, home_team="1",
                        away_team_id=2, away_team="2", analysis=analysis)


@pytest.mark.parametrize("bad", [None, 1, True, "4"])
def test_the_adapter_uses_the_contexts_field_size_and_ignores_a_useless_one(bad):
    predictor = EloPredictor()
    small = predictor.predict(_context(4))
    assert small.detail["field_size"] == 4
    assert small.detail["assumed_quotas"] == pytest.approx(
        expected_quotas(_shares(small), 4), abs=1e-3
    )
    plain = predictor.predict(_context(bad))
    assert plain.detail["field_size"] is None
    assert all(float(q).is_integer() for q in plain.detail["assumed_quotas"])


def _shares(tip: Tip) -> tuple[float, float, float]:
    p = tip.detail["probabilities"]
    own = (p["home"], p["draw"], p["away"])
    return tuple((o + s) / 2 for o, s in zip(own, (0.9, 0.0, 0.1), strict=True))


class _SizeSpy:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def predict(self, context: MatchContext) -> Tip:
        self.sizes.append(context.analysis["_field_size"])
        return Tip(1, 0)


def test_the_evaluation_tells_each_model_the_size_of_its_field():
    spy = _SizeSpy()
    lineup = [Contender(c.slug, c.provider, c.config) for c in DEFAULT_LINEUP] + [
        Contender("outside", "spy", in_field=False)
    ]
    evaluate(league="fr.1", season="2024-25", limit=5, lineup=lineup,
             predictor_factory=lambda c: spy if c.slug in {"outside", "always-2-1"} else _FixedFactory())
    assert spy.sizes == [4] * 10  # the four in the field, the variant outside it does not count


class _FixedFactory:
    def predict(self, context: MatchContext) -> Tip:
        return Tip(2, 1)


@pytest.mark.django_db
def test_production_context_gives_the_active_lineup_as_the_field_size():
    PredictionModelFactory.create_batch(3)
    PredictionModelFactory(is_active=False)
    match = MatchFactory(competition=CompetitionFactory())
    context = build_context(match, MatchAnalysisFactory(match=match))
    active = PredictionModel.objects.filter(is_active=True).count()
    assert active == PredictionModel.objects.count() - 1
    assert context.analysis["_field_size"] == active
