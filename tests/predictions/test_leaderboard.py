"""The leaderboard selector and command: sums, means, intervals, filters, --common and the contamination flag."""

import json
import random
import statistics
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy import stats

from predictions import ranking_stats
from predictions.leaderboard import Scope, leaderboard
from predictions.models import Prediction
from tests.factories import (
    CompetitionFactory,
    MatchFactory,
    PredictionFactory,
    PredictionModelFactory,
    TeamFactory,
    utc,
)

NOW = utc(2025, 3, 1, 12)


def scored(model, match, points, *, retro=False, exact=False, version="v1"):
    """A settled prediction worth ``points`` (tendency hit whenever it scored)."""
    return PredictionFactory(
        model=model, match=match, status=Prediction.Status.SCORED, total_points=points,
        tendency_points=points - 4 if exact else points, goal_diff_bonus=1 if exact else 0,
        exact_score_bonus=3 if exact else 0, is_retroactive=retro, prompt_version=version,
    )


def finished(**kwargs):
    kwargs.setdefault("kickoff_time", NOW - timedelta(days=3))
    return MatchFactory(finished=True, **kwargs)


def run(*args: str) -> dict:
    out = StringIO()
    call_command("leaderboard", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def by_model(data: dict) -> dict:
    return {row["model"]: row for row in data["rows"]}


@pytest.mark.django_db
def test_sums_means_and_t_intervals_equal_hand_computed_ones_with_and_without_retroactive():
    a, b = PredictionModelFactory(slug="a"), PredictionModelFactory(slug="b")
    matches = [finished() for _ in range(4)]
    for match, points in zip(matches, [2, 3, 0], strict=False):
        scored(a, match, points)
    scored(a, matches[3], 7, exact=True, retro=True)
    scored(b, matches[0], 4)
    scored(b, matches[1], 6, exact=True)

    default = by_model(run())
    assert default["a"]["predictions"] == 3 and default["a"]["points"] == 5
    assert default["a"]["mean_points"] == pytest.approx(5 / 3)
    assert default["a"]["retroactive_excluded"] == 1 and default["b"]["retroactive_excluded"] == 0
    assert default["a"]["exact"] == 0 and default["a"]["tendency"] == 2
    assert default["b"]["exact"] == 1 and default["b"]["mean_points"] == 5.0
    half = stats.t.ppf(0.975, 2) * statistics.stdev([2, 3, 0]) / 3**0.5
    assert 5 / 3 - half < 0  # clipped: points are never negative
    assert default["a"]["ci95"] == pytest.approx([0.0, 5 / 3 + half])

    data = run("--include-retroactive")
    assert [row["model"] for row in data["rows"]] == ["b", "a"]  # best first by mean
    both = by_model(data)
    assert both["a"]["predictions"] == 4 and both["a"]["points"] == 12 and both["a"]["exact"] == 1
    assert both["a"]["retroactive_excluded"] == 0
    half = stats.t.ppf(0.975, 3) * statistics.stdev([2, 3, 0, 7]) / 2
    assert both["a"]["ci95"] == pytest.approx([max(0.0, 3 - half), 3 + half])
    assert both["b"]["ci95"] == pytest.approx([0.0, 5 + stats.t.ppf(0.975, 1)])  # sd of [4, 6] / sqrt(2) = 1
    assert data["filters"]["include_retroactive"] is True


@pytest.mark.django_db
def test_rows_are_best_first_and_a_single_prediction_has_no_interval():
    low, high = PredictionModelFactory(slug="low"), PredictionModelFactory(slug="high")
    match = finished()
    scored(low, match, 2)
    scored(high, match, 5)
    data = run()
    assert [row["model"] for row in data["rows"]] == ["high", "low"]
    assert data["rows"][0]["ci95"] == [None, None]
    assert data["coverage"]["matches"] == 1
    assert data["coverage"]["pre_kickoff_share"] == {"high": 1.0, "low": 1.0}


@pytest.mark.django_db
def test_each_filter_narrows_the_scope_as_it_says():
    model = PredictionModelFactory(slug="m")
    arsenal = TeamFactory(name="Arsenal")
    en24 = CompetitionFactory(code="en.1", season=2024)
    de24 = CompetitionFactory(code="de.1", season=2024)
    en23 = CompetitionFactory(code="en.1", season=2023)
    scored(model, finished(competition=en24, home_team=arsenal, kickoff_time=NOW - timedelta(days=2)), 2)
    scored(model, finished(competition=en24, kickoff_time=NOW - timedelta(days=20)), 3)
    scored(model, finished(competition=de24, away_team=arsenal, kickoff_time=NOW - timedelta(days=40)), 4)
    scored(model, finished(competition=en23, kickoff_time=NOW - timedelta(days=400)), 5, version="v0")

    def points(**kwargs) -> int | None:
        rows = leaderboard(Scope(**kwargs), now=NOW).rows
        return rows[0]["points"] if rows else None

    assert points() == 14
    assert points(competitions=("en.1",)) == 10
    assert points(competitions=("en.1", "de.1")) == 14
    assert points(season=2024) == 9
    assert points(team="arsenal") == 6
    assert points(days=7) == 2
    assert points(days=30) == 5
    assert points(date_from=(NOW - timedelta(days=40)).date(), date_to=(NOW - timedelta(days=20)).date()) == 7
    assert points(prompt_version="v0") == 5
    assert points(min_predictions=4) == 14
    assert points(min_predictions=5) is None
    assert run("--season", "2024-25", "--competition", "en.1")["rows"][0]["points"] == 5


@pytest.mark.django_db
def test_only_settled_predictions_count():
    model = PredictionModelFactory(slug="m")
    scored(model, finished(), 4)
    PredictionFactory(model=model, match=finished(), status=Prediction.Status.PENDING, total_points=0)
    PredictionFactory(model=model, match=finished(), status=Prediction.Status.VOID, total_points=0)
    assert by_model(run())["m"]["predictions"] == 1


@pytest.mark.django_db
def test_common_ranks_every_model_only_on_the_matches_all_of_them_predicted():
    a, b, c = (PredictionModelFactory(slug=s) for s in "abc")
    shared = [finished() for _ in range(2)]
    only_a = finished()
    for match in shared:
        scored(a, match, 2)
        scored(b, match, 3)
    scored(a, only_a, 6)
    scored(c, finished(), 6)  # c predicted nothing the others did; --min-predictions 2 leaves it out

    plain = by_model(run())
    assert plain["a"]["points"] == 10 and "c" in plain
    common = run("--common", "--min-predictions", "2")
    rows = by_model(common)
    assert set(rows) == {"a", "b"}
    assert rows["a"]["predictions"] == 2 and rows["a"]["points"] == 4
    assert rows["b"]["points"] == 6
    assert common["coverage"]["matches"] == 2
    assert run("--common")["rows"] == []  # with c listed no match is shared by all


def _honest_points(rng: random.Random) -> int:
    """Points of a tip made without knowing the result: mostly 0 or the tendency quota, rarely exact."""
    roll = rng.random()
    return 0 if roll < 0.5 else rng.choice([2, 3, 4]) if roll < 0.88 else rng.choice([5, 6, 7])


@pytest.mark.django_db
def test_a_planted_cheat_is_flagged_and_honest_models_are_not():
    rng = random.Random(14)
    cheat = PredictionModelFactory(slug="cheat")
    honest = [PredictionModelFactory(slug=f"honest-{i}") for i in range(4)]
    for i in range(80):
        match = finished()
        retro = i % 2 == 1
        # The cheat knows the result when it predicts after kickoff: exact score, every time.
        scored(cheat, match, rng.choice([5, 6, 7]) if retro else _honest_points(rng), retro=retro, exact=retro)
        for model in honest:
            scored(model, match, _honest_points(rng), retro=rng.random() < 0.5)

    data = run()
    checks = {c["model"]: c for c in data["contamination"]}
    assert set(checks) == {"cheat", *(m.slug for m in honest)}
    assert checks["cheat"]["flagged"] and checks["cheat"]["p_value"] < 0.01
    assert checks["cheat"]["retroactive"] == 40 and checks["cheat"]["pre_kickoff"] == 40
    assert checks["cheat"]["mean_retro"] > checks["cheat"]["mean_pre"]
    assert not any(checks[m.slug]["flagged"] for m in honest)
    rows = by_model(data)
    assert rows["cheat"]["flagged"] and not rows["honest-0"]["flagged"]
    out = StringIO()
    call_command("leaderboard", stdout=out)
    assert "CONTAMINATED?" in out.getvalue() and "FLAGGED" in out.getvalue()


def test_mann_whitney_from_histograms_equals_scipy_on_the_expanded_samples():
    rng = np.random.default_rng(3)
    for _ in range(20):
        retro = rng.choice([0, 2, 3, 4, 6, 7], size=int(rng.integers(5, 60)))
        pre = rng.choice([0, 2, 3, 5], size=int(rng.integers(5, 60)))
        expected = stats.mannwhitneyu(retro, pre, alternative="greater", method="asymptotic").pvalue

        def hist(a) -> dict[int, int]:
            values, counts = np.unique(a, return_counts=True)
            return dict(zip(values.tolist(), counts.tolist(), strict=True))

        assert ranking_stats.mann_whitney_greater(hist(retro), hist(pre)) == pytest.approx(expected, rel=1e-9)


def test_the_interval_from_sums_equals_scipys_t_interval_on_the_sample():
    sample = [2, 3, 4, 3, 2, 4, 3, 3, 0, 6]
    expected = stats.t.interval(0.95, len(sample) - 1, loc=np.mean(sample), scale=stats.sem(sample))
    got = ranking_stats.mean_ci(n=len(sample), total=sum(sample), sum_squares=sum(x * x for x in sample))
    assert got == pytest.approx(expected)
    assert ranking_stats.mean_ci(n=1, total=3, sum_squares=9) is None


def test_holm_adjusts_in_rank_order_and_keeps_monotonicity():
    assert ranking_stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert ranking_stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert ranking_stats.holm([]) == []


@pytest.mark.django_db
@pytest.mark.parametrize("common", [False, True])
def test_the_selector_is_one_aggregated_query_whatever_the_number_of_predictions(
    django_assert_num_queries, common
):
    models = [PredictionModelFactory() for _ in range(3)]
    for n_matches in (2, 12):
        for i in range(n_matches):
            match = finished()
            for model in models:
                scored(model, match, i % 5, retro=i % 3 == 0)
        # One aggregated query plus the models' names; --common adds its restricted aggregate.
        with django_assert_num_queries(3 if common else 2):
            board = leaderboard(Scope(common=common, competitions=()), now=NOW)
        assert len(board.rows) == 3


@pytest.mark.django_db
def test_an_empty_scope_says_so_and_exits_zero():
    out = StringIO()
    call_command("leaderboard", stdout=out)
    assert "no settled predictions in scope" in out.getvalue()
    data = run()
    assert data["rows"] == [] and data["message"] == "no settled predictions in scope"


@pytest.mark.django_db
@pytest.mark.parametrize("args", [
    ["--days", "0"],
    ["--days", "7", "--from", "2025-01-01"],
    ["--from", "2025-02-01", "--to", "2025-01-01"],
    ["--min-predictions", "0"],
    ["--competition", "xx.9"],
    ["--team", "Nobody United"],
])
def test_bad_filters_are_a_one_line_error_with_exit_code_2(args):
    with pytest.raises(CommandError) as excinfo:
        call_command("leaderboard", *args)
    assert excinfo.value.returncode == 2
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("args", [["--from", "yesterday"], ["--season", "24/25"], ["--days", "x"]])
def test_malformed_values_exit_2_from_the_command_line_without_a_traceback(args):
    proc = subprocess.run([sys.executable, "manage.py", "leaderboard", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr
