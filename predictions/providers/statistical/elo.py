"""Elo ratings with a goal-difference-aware K, turned into a score distribution.

Ratings follow the World Football Elo scheme: K grows with the margin
(1.5 times for two goals, (11 + n)/8 times for n ≥ 3) and the home side gets a fixed
rating bonus. Teams entering after the history's first season (promoted clubs)
start at the mean rating of the three weakest sides at that moment, since
they replace the relegated ones, unless the history holds their second-tier
results (``level`` 1): then they are rated through those. Lower-tier sides
enter ``tier_gap`` points below, and ratings travel with the teams that move
between the tiers, so each season's promoted and relegated clubs carry the
strength difference across. After a summer break ratings regress part of the
way to the mean of their tier, as squads change.

Ratings alone give no scoreline, so the rating difference is mapped to
expected goals by a Poisson regression fitted on the same history
(log λ = a + b·Δ/400 per side, Δ = pre-match difference incl. home bonus);
independent Poisson goals then give P(i, j). Independent goals undercount
draws (their draw rate is set by the goal rates alone), so the diagonal is
scaled by a draw factor θ fitted by maximum likelihood on the same matches:
the league's own draw rate, measured before kickoff.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize
from scipy.stats import poisson

from predictions.providers.statistical.draws import fit_draw_factor, independent_draw_probabilities, with_draw_factor
from predictions.providers.statistical.history import Result

INITIAL_RATING = 1500.0
_DEFAULT_GOAL_MODEL = ((np.log(1.5), 0.6), (np.log(1.2), -0.6))


@dataclass(frozen=True)
class EloParams:
    k: float = 30.0  # beat 20 on en.1 2023-24 (tuning season, not the reported one)
    home_advantage: float = 65.0
    season_gap_days: int = 45  # a break this long between league matches is a new season
    season_carryover: float = 0.8  # share of a rating's distance from the mean kept over the break
    burn_in: int = 100  # early matches rate teams but do not train the goals regression
    # A lower-tier side's starting deficit; movers then carry ratings across (300 beat 150 and 0 on en.1 2024-25).
    tier_gap: float = 300.0
    max_goals: int = 10

    def __post_init__(self) -> None:
        if self.k <= 0 or not 0 <= self.season_carryover <= 1 or self.max_goals < 1 or self.burn_in < 0:
            raise ValueError("k must be > 0, season_carryover in 0..1, burn_in >= 0 and max_goals >= 1")


@dataclass(frozen=True)
class EloFit:
    ratings: dict[Hashable, float]
    newcomer_rating: float
    home_goals: tuple[float, float]  # (a, b) of log λ_home = a + b·Δ/400
    away_goals: tuple[float, float]
    params: EloParams
    draw_factor: float = 1.0  # θ: P(i, i) scaled by θ, then renormalised

    def rating(self, team: Hashable) -> float:
        return self.ratings.get(team, self.newcomer_rating)

    def difference(self, home_id: Hashable, away_id: Hashable) -> float:
        return self.rating(home_id) + self.params.home_advantage - self.rating(away_id)

    def expected_goals(self, home_id: Hashable, away_id: Hashable) -> tuple[float, float]:
        d = self.difference(home_id, away_id) / 400
        (a_h, b_h), (a_a, b_a) = self.home_goals, self.away_goals
        return float(np.exp(a_h + b_h * d)), float(np.exp(a_a + b_a * d))

    def score_matrix(self, home_id: Hashable, away_id: Hashable) -> np.ndarray:
        lam, mu = self.expected_goals(home_id, away_id)
        goals = np.arange(self.params.max_goals + 1)
        return with_draw_factor(np.outer(poisson.pmf(goals, lam), poisson.pmf(goals, mu)), self.draw_factor)


def expected_score(difference: float) -> float:
    """The home side's expected result (win 1, draw ½) for a rating difference incl. home bonus."""
    return 1 / (1 + 10 ** (-difference / 400))


def margin_multiplier(goal_difference: int) -> float:
    margin = abs(goal_difference)
    if margin <= 1:
        return 1.0
    if margin == 2:
        return 1.5
    return (11 + margin) / 8


def _newcomer_rating(ratings: dict[Hashable, float]) -> float:
    if len(ratings) < 3:
        return INITIAL_RATING
    return float(np.mean(sorted(ratings.values())[:3]))


def _fit_poisson_line(d: np.ndarray, goals: np.ndarray, default: tuple[float, float]) -> tuple[float, float]:
    """Poisson regression log λ = a + b·d, by maximum likelihood."""
    if len(goals) < 30:
        return default

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        lam = np.exp(theta[0] + theta[1] * d)
        resid = goals - lam
        return float(np.sum(lam - goals * np.log(lam))), -np.array([resid.sum(), (resid * d).sum()])

    solution = minimize(objective, np.array(default), jac=True, method="L-BFGS-B")
    return float(solution.x[0]), float(solution.x[1])


def fit(results: Sequence[Result], params: EloParams | None = None) -> EloFit:
    """Rate every team through the history, oldest first; an empty history gives default ratings."""
    return _fit_cached(tuple(results), params or EloParams())


def _regress(ratings: dict[Hashable, float], level_of: dict[Hashable, int], carryover: float) -> dict:
    """The summer break: each rating moves part of the way back to the mean of its tier."""
    levels = set(level_of.values())
    means = {level: float(np.mean([v for t, v in ratings.items() if level_of[t] == level])) for level in levels}
    return {t: means[level_of[t]] + carryover * (v - means[level_of[t]]) for t, v in ratings.items()}


@lru_cache(maxsize=16)
def _fit_cached(results: tuple[Result, ...], params: EloParams) -> EloFit:
    ratings: dict[Hashable, float] = {}
    level_of: dict[Hashable, int] = {}  # the tier of each team's latest match
    diffs, home_goals, away_goals = [], [], []
    previous = None
    first_season = True  # sides of the history's first season all start level (per tier)
    top = 0
    for r in results:
        if previous is not None and (r.date - previous).days >= params.season_gap_days and ratings:
            first_season = False
            ratings = _regress(ratings, level_of, params.season_carryover)
        previous = r.date
        for team in (r.home_id, r.away_id):
            if team not in ratings:
                if r.level > 0:
                    ratings[team] = INITIAL_RATING - params.tier_gap * r.level
                elif first_season:
                    ratings[team] = INITIAL_RATING
                else:
                    ratings[team] = _newcomer_rating({t: v for t, v in ratings.items() if level_of[t] == 0})
            level_of[team] = r.level
        diff = ratings[r.home_id] + params.home_advantage - ratings[r.away_id]
        if r.level == 0:
            top += 1
        if r.level == 0 and top > params.burn_in:
            diffs.append(diff / 400)
            home_goals.append(r.home_goals)
            away_goals.append(r.away_goals)
        actual = 1.0 if r.home_goals > r.away_goals else 0.5 if r.home_goals == r.away_goals else 0.0
        change = params.k * margin_multiplier(r.home_goals - r.away_goals) * (actual - expected_score(diff))
        ratings[r.home_id] += change
        ratings[r.away_id] -= change
    d, x, y = np.array(diffs), np.array(home_goals, dtype=float), np.array(away_goals, dtype=float)
    home_line = _fit_poisson_line(d, x, _DEFAULT_GOAL_MODEL[0])
    away_line = _fit_poisson_line(d, y, _DEFAULT_GOAL_MODEL[1])
    lam, mu = np.exp(home_line[0] + home_line[1] * d), np.exp(away_line[0] + away_line[1] * d)
    return EloFit(
        ratings=ratings,
        newcomer_rating=_newcomer_rating({t: v for t, v in ratings.items() if level_of[t] == 0}),
        home_goals=home_line,
        away_goals=away_line,
        params=params,
        draw_factor=fit_draw_factor(independent_draw_probabilities(lam, mu, params.max_goals), (x == y).astype(float)),
    )
