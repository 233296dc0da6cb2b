"""Elo and Dixon-Coles draw as often as the league did before kickoff, not as their goals alone say."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from predictions.providers.statistical import Result, dixon_coles, draws, elo
from predictions.providers.statistical.tipping import tendency_probabilities

START = datetime(2023, 8, 1, 15, tzinfo=UTC)
TEAMS = {f"t{i}": s for i, s in enumerate((0.5, 0.3, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4))}


def _league(extra_draws: float, seed: int = 3) -> list[Result]:
    """Double round robins with Poisson goals; ``extra_draws`` of the decided matches are turned into 1-1."""
    rng = np.random.default_rng(seed)
    results, day = [], 0
    for _ in range(8):
        for home, sh in TEAMS.items():
            for away, sa in TEAMS.items():
                if home == away:
                    continue
                x, y = rng.poisson(np.exp(0.35 + 0.2 + sh - sa)), rng.poisson(np.exp(0.35 + sa - sh))
                if x != y and rng.random() < extra_draws:
                    x = y = 1
                results.append(Result(START + timedelta(hours=12 * day), home, away, int(x), int(y)))
                day += 1
    return results


def _mean_draw_probability(fit: elo.EloFit | dixon_coles.DixonColesFit) -> float:
    pairs = [(h, a) for h in TEAMS for a in TEAMS if h != a]
    return float(np.mean([tendency_probabilities(fit.score_matrix(h, a))[1] for h, a in pairs]))


def test_a_drawish_league_gets_a_draw_factor_that_matches_its_draw_rate():
    results = _league(extra_draws=0.12)
    fit = elo.fit(results)
    trained = results[elo.EloParams().burn_in:]
    draw_rate = np.mean([r.home_goals == r.away_goals for r in trained])
    assert 1.2 < fit.draw_factor < draws.DRAW_FACTOR_BOUNDS[1]
    assert abs(_mean_draw_probability(fit) - draw_rate) < 0.04
    plain = replace(fit, draw_factor=1.0)  # independent goals alone undercount the draws
    assert _mean_draw_probability(plain) < draw_rate - 0.08


def test_independent_goals_keep_a_draw_factor_near_one():
    fit = elo.fit(_league(extra_draws=0.0))
    assert 0.8 < fit.draw_factor < 1.2


def test_too_short_a_history_leaves_the_draws_alone():
    assert elo.fit(_league(extra_draws=0.5)[:120]).draw_factor == 1.0  # 20 matches after burn-in: too few


def test_dixon_coles_calibrates_its_diagonal_beyond_what_rho_can_do():
    results = _league(extra_draws=0.12)
    fit = dixon_coles.fit(results)
    draw_rate = np.mean([r.home_goals == r.away_goals for r in results])
    assert fit.draw_factor > 1.1
    assert abs(_mean_draw_probability(fit) - draw_rate) < 0.04
    assert _mean_draw_probability(replace(fit, draw_factor=1.0)) < draw_rate - 0.04


def test_dixon_coles_on_independent_goals_keeps_a_draw_factor_near_one():
    assert 0.8 < dixon_coles.fit(_league(extra_draws=0.0)).draw_factor < 1.2
