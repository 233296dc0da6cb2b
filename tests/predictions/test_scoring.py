"""Kicktipp quota scoring: quotas, rounding, and the points of a single tip."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predictions.scoring import Quotas, ScoreBreakdown, calculate_quotas, score_prediction

SCORES = st.tuples(st.integers(0, 20), st.integers(0, 20))


def test_worked_example_quotas_are_2_3_6():
    scores = [(2, 1)] * 6 + [(1, 1)] * 3 + [(0, 1)]
    assert calculate_quotas(scores) == Quotas(2, 3, 6)


@pytest.mark.parametrize(
    ("tip", "points"),
    [((0, 1), ScoreBreakdown(6, 1, 3, 10)), ((1, 2), ScoreBreakdown(6, 1, 0, 7)),
     ((0, 2), ScoreBreakdown(6, 0, 0, 6)), ((2, 0), ScoreBreakdown(0, 0, 0, 0))],
)
def test_worked_example_away_win_0_1(tip, points):
    assert score_prediction(*tip, 0, 1, Quotas(2, 3, 6)) == points


@pytest.mark.parametrize(("tip", "total"), [((1, 1), 7), ((0, 0), 4), ((2, 1), 0)])
def test_worked_example_draw_1_1(tip, total):
    assert score_prediction(*tip, 1, 1, Quotas(2, 3, 6)).total == total


def test_raw_quota_of_exactly_2_5_rounds_half_up_to_3():
    scores = [(1, 0)] * 6 + [(0, 0)] * 5
    assert calculate_quotas(scores).home == 3


def test_a_tendency_nobody_predicted_is_worth_6():
    assert calculate_quotas([(1, 0), (2, 0)]) == Quotas(2, 6, 6)


def test_no_predictions_gives_2_2_2():
    assert calculate_quotas([]) == Quotas(2, 2, 2)


def test_unanimous_tendency_is_worth_the_minimum():
    assert calculate_quotas([(0, 0)] * 7).draw == 2


def test_draw_tip_with_right_tendency_always_has_the_right_goal_difference():
    assert score_prediction(2, 2, 0, 0, Quotas(2, 4, 6)) == ScoreBreakdown(4, 1, 0, 5)


@given(st.lists(SCORES, min_size=1, max_size=60))
def test_quotas_stay_within_2_and_6(scores):
    quotas = calculate_quotas(scores)
    assert all(2 <= q <= 6 for q in quotas)


@given(st.lists(SCORES, min_size=1, max_size=60))
def test_rarer_tendencies_never_earn_less(scores):
    counts = {"home": 0, "draw": 0, "away": 0}
    for h, a in scores:
        counts["home" if h > a else "away" if h < a else "draw"] += 1
    quotas = calculate_quotas(scores)._asdict()
    for t1 in counts:
        for t2 in counts:
            if counts[t1] < counts[t2]:
                assert quotas[t1] >= quotas[t2]


@given(SCORES, SCORES, st.tuples(st.integers(2, 6), st.integers(2, 6), st.integers(2, 6)))
def test_points_breakdown_is_consistent(tip, result, quotas):
    points = score_prediction(*tip, *result, Quotas(*quotas))
    assert points.total == points.tendency_points + points.goal_diff_bonus + points.exact_score_bonus
    assert 0 <= points.total <= 10
    if tip == result:
        assert points.exact_score_bonus == 3 and points.goal_diff_bonus == 1
    if points.total == 0:
        assert (tip[0] > tip[1]) != (result[0] > result[1]) or (tip[0] < tip[1]) != (result[0] < result[1])
