"""Local statistical models: tip choice, Dixon-Coles, Elo, baselines, adapters and registry."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.optimize import check_grad

from matches.services.leak_guard import RESULT_KNOWN_AFTER, LeakError, assert_results_known_before
from predictions.models import PredictionModel
from predictions.providers.base import MatchContext, PredictionFailed
from predictions.providers.registry import build_predictor
from predictions.providers.statistical import (
    DixonColesPredictor,
    EloPredictor,
    FixedScorePredictor,
    MostFrequentPredictor,
    Result,
    dixon_coles,
    elo,
)
from predictions.providers.statistical.baselines import most_frequent_score
from predictions.providers.statistical.history import results_from_history
from predictions.providers.statistical.tipping import (
    best_tip,
    estimate_quotas,
    most_likely_tip,
    quotas_from_shares,
    tendency_probabilities,
)
from predictions.scoring import calculate_quotas, score_prediction
from predictions.services.evaluation import history_rows

START = datetime(2024, 8, 1, 15, tzinfo=UTC)


def _matrix(cells: dict[tuple[int, int], float], size: int = 8) -> np.ndarray:
    matrix = np.zeros((size, size))
    for (h, a), p in cells.items():
        matrix[h, a] = p
    return matrix


def _synthetic_league(strengths: dict[str, float], rounds: int = 6, seed: int = 7) -> list[Result]:
    """Double round robins with Poisson goals from log-rate strengths and a home edge."""
    rng = np.random.default_rng(seed)
    teams, results, day = list(strengths), [], 0
    for _ in range(rounds):
        for home in teams:
            for away in teams:
                if home == away:
                    continue
                lam = np.exp(0.3 + 0.25 + strengths[home] - strengths[away])
                mu = np.exp(0.3 + strengths[away] - strengths[home])
                results.append(Result(START + timedelta(days=day), home, away, rng.poisson(lam), rng.poisson(mu)))
                day += 1
    return results


def _history_rows(results: list[Result]) -> list[dict]:
    return [
        {"date": r.date.isoformat(), "home_id": r.home_id, "away_id": r.away_id,
         "home_goals": r.home_goals, "away_goals": r.away_goals}
        for r in results
    ]


def _context(history: list[dict], kickoff: datetime, home: object = 1, away: object = 2) -> MatchContext:
    return MatchContext(
        match_id=1, kickoff_time=kickoff, competition="test", home_team_id=home, home_team=str(home),
        away_team_id=away, away_team=str(away), analysis={"history": history},
    )


# --- tip choice -------------------------------------------------------------------------


def test_best_tip_is_not_the_most_likely_score_when_a_home_win_is_worth_more():
    # 1-1 is the single likeliest score, but 60% of the mass is home wins.
    matrix = _matrix({(1, 1): 0.2, (1, 0): 0.15, (2, 1): 0.15, (2, 0): 0.14, (3, 1): 0.16, (0, 1): 0.2})
    choice = best_tip(matrix, "model")
    assert most_likely_tip(matrix) in {(1, 1), (0, 1)}
    assert choice.home > choice.away


def test_best_tip_expected_points_match_the_platform_scoring_rules():
    rng = np.random.default_rng(1)
    matrix = rng.random((8, 8))
    matrix /= matrix.sum()
    choice = best_tip(matrix, (0.5, 0.2, 0.3))
    assert choice.quotas == quotas_from_shares((0.5, 0.2, 0.3))
    brute = {
        (th, ta): sum(matrix[h, a] * score_prediction(th, ta, h, a, choice.quotas).total
                      for h in range(8) for a in range(8))
        for th in range(7) for ta in range(7)
    }
    assert choice.expected_points == pytest.approx(max(brute.values()))
    assert brute[(choice.home, choice.away)] == pytest.approx(max(brute.values()))


def test_typical_field_shares_give_the_quotas_settlement_would_compute():
    tips = [(2, 1)] * 60 + [(1, 1)] * 15 + [(0, 1)] * 25
    assert quotas_from_shares((0.60, 0.15, 0.25)) == calculate_quotas(tips)


def test_tendency_probabilities_split_the_matrix_by_outcome():
    matrix = _matrix({(2, 0): 0.5, (1, 1): 0.3, (0, 3): 0.2})
    assert tendency_probabilities(matrix) == pytest.approx((0.5, 0.3, 0.2))


# --- Dixon-Coles --------------------------------------------------------------------------


def test_dixon_coles_recovers_a_clearly_stronger_team():
    results = _synthetic_league({"strong": 0.6, "b": 0.0, "c": 0.0, "d": -0.1, "e": 0.1, "weak": -0.5})
    fit = dixon_coles.fit(results)
    strength = {t: fit.attack[i] - fit.defence[i] for t, i in fit.teams.items()}
    assert max(strength, key=strength.get) == "strong"
    assert min(strength, key=strength.get) == "weak"
    assert fit.home > 0
    home_win, _, away_win = tendency_probabilities(fit.score_matrix("strong", "weak"))
    assert home_win > 0.6 > away_win


def test_dixon_coles_rates_an_unknown_team_as_a_weak_newcomer():
    results = _synthetic_league({"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0})
    fit = dixon_coles.fit(results)
    known_for, known_against = fit.expected_goals("a", "b")
    newcomer_for, newcomer_against = fit.expected_goals("promoted", "b")
    assert newcomer_for < known_for and newcomer_against > known_against


def test_dixon_coles_score_matrix_is_a_distribution():
    matrix = dixon_coles.score_matrix(1.6, 1.1, -0.08, 10)
    assert matrix.sum() == pytest.approx(1.0)
    assert (matrix >= 0).all()


# --- Elo ------------------------------------------------------------------------------------


def test_elo_moves_the_winner_up_and_the_loser_down():
    fit = elo.fit([Result(START, "h", "a", 2, 0)])
    assert fit.rating("h") > elo.INITIAL_RATING > fit.rating("a")


def test_elo_moves_more_for_a_bigger_margin_and_for_an_upset():
    narrow = elo.fit([Result(START, "h", "a", 1, 0)]).rating("h")
    wide = elo.fit([Result(START, "h", "a", 4, 0)]).rating("h")
    away_win = elo.INITIAL_RATING - elo.fit([Result(START, "h", "a", 0, 1)]).rating("h")
    assert wide > narrow
    assert away_win > narrow - elo.INITIAL_RATING  # the home side was favoured, so losing costs more


def test_elo_expected_goals_grow_with_the_rating_gap():
    results = _synthetic_league({"strong": 0.6, "b": 0.0, "c": 0.0, "weak": -0.5}, rounds=12)
    fit = elo.fit(results)
    assert fit.rating("strong") > fit.rating("weak")
    strong_home = fit.expected_goals("strong", "weak")
    weak_home = fit.expected_goals("weak", "strong")
    assert strong_home[0] > weak_home[0] and strong_home[1] < weak_home[1]


# --- baselines --------------------------------------------------------------------------------


def test_fixed_score_defaults_to_two_one_and_is_configurable():
    context = _context([], START)
    assert (FixedScorePredictor().predict(context).home, FixedScorePredictor().predict(context).away) == (2, 1)
    tip = FixedScorePredictor({"home": 1, "away": 0}).predict(context)
    assert (tip.home, tip.away) == (1, 0)


def test_most_frequent_score_counts_and_breaks_ties_by_recency():
    day = [START + timedelta(days=i) for i in range(5)]
    results = [Result(day[0], 1, 2, 1, 0), Result(day[1], 1, 2, 2, 1), Result(day[2], 1, 2, 1, 0),
               Result(day[3], 1, 2, 2, 1)]
    assert most_frequent_score(results) == (2, 1)
    assert most_frequent_score([*results, Result(day[4], 1, 2, 1, 0)]) == (1, 0)


def test_most_frequent_baseline_works_without_history():
    tip = MostFrequentPredictor().predict(_context([], START))
    assert (tip.home, tip.away) == (1, 1)


# --- adapters and registry ----------------------------------------------------------------------


def test_dixon_coles_predictor_tips_the_favourite_from_the_analysis_history():
    results = _synthetic_league({1: 0.6, 2: -0.5, 3: 0.0, 4: 0.0})
    kickoff = results[-1].date + timedelta(days=3)
    tip = DixonColesPredictor().predict(_context(_history_rows(results), kickoff, home=1, away=2))
    assert tip.home > tip.away
    assert tip.detail["probabilities"]["home"] > 0.5


def test_predictor_refuses_history_dated_at_or_after_kickoff():
    results = _synthetic_league({1: 0.0, 2: 0.0})
    with pytest.raises(PredictionFailed, match="not before kickoff"):
        EloPredictor().predict(_context(_history_rows(results), results[-1].date))


@pytest.mark.parametrize("predictor", [DixonColesPredictor(), EloPredictor()])
def test_with_too_little_history_the_models_tip_from_the_league_prior_instead_of_failing(predictor):
    """A new season or a cup has no 20 league matches yet: a refusal would trip the circuit breaker."""
    empty = predictor.predict(_context([], START))
    assert empty.detail["basis"] == "league_prior"
    assert empty.detail["history_matches"] == 0
    assert empty.detail["expected_goals"] == [1.55, 1.25]
    assert empty.home > empty.away  # the prior's home edge

    # Ten away-dominated matches pull the rates towards the league's own (shrunk, not replaced).
    away_wins = [Result(START - timedelta(days=10 - i), 1 + i % 2, 2 - i % 2, 0, 3) for i in range(10)]
    thin = predictor.predict(_context(_history_rows(away_wins), START))
    assert thin.detail["basis"] == "league_prior"
    assert thin.detail["expected_goals"] == [round(15.5 / 20, 3), round(42.5 / 20, 3)]
    assert thin.away > thin.home


def test_missing_history_key_is_a_clear_failure():
    with pytest.raises(PredictionFailed, match="no 'history'"):
        MostFrequentPredictor().predict(MatchContext(1, START, "t", 1, "a", 2, "b", analysis={}))


@pytest.mark.parametrize(
    ("provider", "config", "message"),
    [
        ("dixon_coles", {"xi": "fast"}, "'xi' must be a number"),
        ("dixon_coles", {"shrinkage": -1}, "bad dixon_coles config"),
        ("dixon_coles", {"quota_estimate": "crowd"}, "quota_estimate"),
        ("elo", {"tip": "random"}, "'tip' must be one of"),
        ("elo", {"kk": 20}, "unknown elo config keys"),
        ("fixed_score", {"home": 21}, "'home' must be an integer in 0..20"),
    ],
)
def test_bad_config_raises_prediction_failed(provider, config, message):
    with pytest.raises(PredictionFailed, match=message):
        build_predictor(PredictionModel(slug="m", provider=provider, config=config))


@pytest.mark.parametrize(
    ("provider", "cls"),
    [("dixon_coles", DixonColesPredictor), ("elo", EloPredictor), ("fixed_score", FixedScorePredictor),
     ("most_frequent", MostFrequentPredictor)],
)
def test_registry_maps_each_local_provider_to_its_adapter(provider, cls):
    assert isinstance(build_predictor(PredictionModel(slug="m", provider=provider, config={})), cls)


def test_registry_builds_the_llm_adapter_lazily():
    model = PredictionModel(slug="llm", provider="openai_compatible", config={"model": "x"})
    assert type(build_predictor(model)).__name__ == "OpenAICompatiblePredictor"


def test_dixon_coles_analytic_gradient_matches_finite_differences():
    """Two levels (league and second tier), a per-level goal rate and home edge, and the tier gap."""
    results = _synthetic_league({"a": 0.3, "b": 0.0, "c": -0.2, "d": 0.1}, rounds=2)
    fit = dixon_coles.fit(results)
    n = len(fit.teams)
    levels = np.array([i % 3 == 0 for i in range(len(results))], dtype=int)
    data = dixon_coles._FitData.build(
        n,
        np.array([fit.teams[r.home_id] for r in results]),
        np.array([fit.teams[r.away_id] for r in results]),
        np.array([r.home_goals for r in results], dtype=float),
        np.array([r.away_goals for r in results], dtype=float),
        np.linspace(0.5, 1.0, len(results)),
        levels,
        np.array([1.0, 0.0, 1.0, 0.0]),
        np.zeros(n),
        np.full(n, 0.1),
        1.5,
    )
    theta = np.random.default_rng(3).normal(0, 0.2, 2 * n + 2 * 2 + 3)
    theta[-3] = -0.1
    error = check_grad(
        lambda t: dixon_coles.negative_log_posterior(t, data)[0],
        lambda t: dixon_coles.negative_log_posterior(t, data)[1],
        theta,
    )
    assert error < 1e-4


def test_the_leak_guard_rejects_a_history_row_still_being_played_at_kickoff():
    results = _synthetic_league({1: 0.0, 2: 0.0})
    kickoff = results[-1].date + timedelta(hours=2)  # the last match has not ended yet
    with pytest.raises(PredictionFailed, match="leak guard"):
        DixonColesPredictor().predict(_context(_history_rows(results), kickoff))
    with pytest.raises(LeakError):
        assert_results_known_before([r.date for r in results], kickoff)
    assert_results_known_before([r.date for r in results], results[-1].date + RESULT_KNOWN_AFTER + timedelta(seconds=1))


def _promotion_history() -> tuple[list[dict], dict[str, int], datetime]:
    ids: dict[str, int] = {}
    _, rows, _ = history_rows("en.1", "2023-24", lambda name: ids.setdefault(name, len(ids) + 1))
    kickoff = datetime(2023, 8, 11, 19, 0, tzinfo=UTC)  # Burnley v Manchester City, the opening match
    return [r for r in rows if datetime.fromisoformat(r["date"]) + RESULT_KNOWN_AFTER < kickoff], ids, kickoff


def test_promoted_teams_are_rated_from_their_second_tier_season_across_a_fitted_gap():
    rows, ids, kickoff = _promotion_history()
    assert any(r.get("level") == 1 for r in rows)
    fit = dixon_coles.fit(results_from_history(rows, before=kickoff))
    gap_attack, gap_defence = fit.tier_gap
    assert gap_attack > 0.1 and gap_defence > 0.1  # the second tier is weaker, as the movers show
    burnley, luton = fit._rating(ids["Burnley FC"]), fit._rating(ids["Luton Town FC"])
    city = fit._rating(ids["Manchester City FC"])
    # Burnley won the Championship with 101 points, Luton came through the play-offs: rated apart, both below City.
    assert burnley[0] - burnley[1] > luton[0] - luton[1]
    assert city[0] - city[1] > burnley[0] - burnley[1]
    elo_fit = elo.fit(results_from_history(rows, before=kickoff))
    assert elo_fit.rating(ids["Burnley FC"]) > elo_fit.rating(ids["Luton Town FC"])
    assert elo_fit.rating(ids["Manchester City FC"]) > elo_fit.rating(ids["Burnley FC"])


def test_the_field_estimate_blends_the_fields_past_shares_with_the_models_view():
    matrix = dixon_coles.score_matrix(1.4, 1.2, 0.0, 10)
    own = estimate_quotas(matrix, "model")
    # a field that tipped home on every earlier match makes away and draw tips scarcer, so worth more
    field = estimate_quotas(matrix, "field", [90, 10, 0])
    assert field.home <= own.home and field.away > own.away
    assert estimate_quotas(matrix, "field", None) == own
