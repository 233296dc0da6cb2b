"""Dixon-Coles (1997) goals model: Poisson scores with a low-score correction.

log λ_home = μ[level] + h[level] + attack[home] + defence[away]
log λ_away = μ[level] + attack[away] + defence[home]

(``defence`` is a concession rate: higher is worse.) ``level`` is the
division of the match relative to the league predicted (0 = the league, 1 =
its second tier): goal rate μ and home advantage h are fitted per league, on
the history before kickoff only. Second-tier results rate promoted clubs: every
team shares one scale, and teams based in the lower tier (most of their
weighted matches there) are shrunk towards a prior weaker by a fitted
tier gap (attack -gap_att, defence +gap_def). The gap is identified by the
teams that moved between the tiers, promoted and relegated, whose results sit
on both sides of it: that is the tier-to-tier strength map. Matches are weighted by
exp(-ξ·age), age measured back from the newest result in the history, so the
fit is a pure function of the history and can be cached and shared. A ridge
penalty pulls every team towards a prior: average (0) for established sides,
a weaker "newcomer" prior for sides with few recent matches (promoted clubs),
which also keeps early-season fits of sparse teams stable. The likelihood and
its gradient are vectorised, so a fit on two seasons takes milliseconds.
After the goals, a draw factor θ scales the diagonal of the score matrix: rho
only touches 0-0 and 1-1 within its bounds, so θ is fitted by maximum
likelihood on the league's own draws in the (time-weighted) history.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize
from scipy.stats import poisson

from predictions.providers.statistical.draws import (
    fit_draw_factor,
    independent_draw_probabilities,
    with_draw_factor,
)
from predictions.providers.statistical.history import Result

RHO_BOUNDS = (-0.2, 0.2)
TIER_GAP_START = 0.3
_TAU_FLOOR = 1e-10


@dataclass(frozen=True)
class DixonColesParams:
    # Per day: a half-life of about six months. Chosen on en.1 2023-24 (not the reported season), where it
    # beat Dixon & Coles' own 0.0065 per half-week (0.0019 per day) by ~0.05 points per match under 2/3/4.
    xi: float = 0.004
    shrinkage: float = 2.0  # ridge weight on each team's deviation from its prior
    newcomer_attack: float = -0.3
    newcomer_defence: float = 0.3
    newcomer_window_days: int = 365
    newcomer_matches: int = 10  # fewer matches than this in the window: the newcomer prior applies
    max_goals: int = 10

    def __post_init__(self) -> None:
        if self.xi < 0 or self.shrinkage < 0 or self.max_goals < 1 or self.newcomer_window_days < 0:
            raise ValueError("xi, shrinkage and newcomer_window_days must be >= 0 and max_goals >= 1")


@dataclass(frozen=True)
class DixonColesFit:
    teams: dict[Hashable, int]
    attack: np.ndarray
    defence: np.ndarray
    mu: float
    home: float
    rho: float
    params: DixonColesParams
    n_matches: int
    tier_gap: tuple[float, float] = (0.0, 0.0)  # fitted (attack, defence) gap of lower-tier teams
    draw_factor: float = 1.0  # θ: P(i, i) scaled by θ, then renormalised (fitted after the goals)

    def _rating(self, team: Hashable) -> tuple[float, float]:
        index = self.teams.get(team)
        if index is None:
            return self.params.newcomer_attack, self.params.newcomer_defence
        return float(self.attack[index]), float(self.defence[index])

    def expected_goals(self, home_id: Hashable, away_id: Hashable) -> tuple[float, float]:
        att_h, def_h = self._rating(home_id)
        att_a, def_a = self._rating(away_id)
        return float(np.exp(self.mu + self.home + att_h + def_a)), float(np.exp(self.mu + att_a + def_h))

    def score_matrix(self, home_id: Hashable, away_id: Hashable) -> np.ndarray:
        lam, mu = self.expected_goals(home_id, away_id)
        return with_draw_factor(score_matrix(lam, mu, self.rho, self.params.max_goals), self.draw_factor)


def score_matrix(lam: float, mu: float, rho: float, max_goals: int) -> np.ndarray:
    """P(home = i, away = j) for i, j in 0..max_goals, with the rho correction, renormalised."""
    goals = np.arange(max_goals + 1)
    matrix = np.outer(poisson.pmf(goals, lam), poisson.pmf(goals, mu))
    matrix[0, 0] *= max(1 - lam * mu * rho, 0.0)
    matrix[0, 1] *= max(1 + lam * rho, 0.0)
    matrix[1, 0] *= max(1 + mu * rho, 0.0)
    matrix[1, 1] *= max(1 - rho, 0.0)
    return matrix / matrix.sum()


@dataclass(frozen=True, eq=False)
class _FitData:
    n: int
    hi: np.ndarray
    ai: np.ndarray
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    lv: np.ndarray  # level of each match
    levels: int
    lower: np.ndarray  # 1.0 for a team based in the lower tier
    prior_att: np.ndarray  # before the tier gap
    prior_def: np.ndarray
    shrinkage: float

    m00: np.ndarray
    m01: np.ndarray
    m10: np.ndarray
    m11: np.ndarray

    @classmethod
    def build(cls, n, hi, ai, x, y, w, lv, lower, prior_att, prior_def, shrinkage) -> "_FitData":
        """Precompute the masks of the four low scores the rho correction touches."""
        low = [(x == h) & (y == a) for h, a in ((0, 0), (0, 1), (1, 0), (1, 1))]
        levels = int(lv.max()) + 1
        return cls(n, hi, ai, x, y, w, lv, levels, lower, prior_att, prior_def, shrinkage, *low)


def _priors(results: Sequence[Result], teams: dict[Hashable, int], params: DixonColesParams):
    newest = results[-1].date
    window_start = newest - timedelta(days=params.newcomer_window_days)
    recent = np.zeros(len(teams))
    for r in results:
        if r.date >= window_start:
            recent[teams[r.home_id]] += 1
            recent[teams[r.away_id]] += 1
    newcomer = recent < params.newcomer_matches
    return np.where(newcomer, params.newcomer_attack, 0.0), np.where(newcomer, params.newcomer_defence, 0.0)


def negative_log_posterior(theta: np.ndarray, data: _FitData) -> tuple[float, np.ndarray]:
    """Penalised weighted negative log-likelihood and its gradient (vectorised over matches)."""
    n, hi, ai, x, y, w, lv, nl = data.n, data.hi, data.ai, data.x, data.y, data.w, data.lv, data.levels
    m00, m01, m10, m11 = data.m00, data.m01, data.m10, data.m11
    shrinkage, lower = data.shrinkage, data.lower
    att, dfc = theta[:n], theta[n : 2 * n]
    mu, home = theta[2 * n : 2 * n + nl], theta[2 * n + nl : 2 * n + 2 * nl]
    rho, gap_att, gap_def = theta[2 * n + 2 * nl], theta[2 * n + 2 * nl + 1], theta[2 * n + 2 * nl + 2]
    prior_att = data.prior_att - gap_att * lower
    prior_def = data.prior_def + gap_def * lower
    lam = np.exp(mu[lv] + home[lv] + att[hi] + dfc[ai])
    lmb = np.exp(mu[lv] + att[ai] + dfc[hi])
    tau = np.ones_like(lam)
    tau[m00] = 1 - lam[m00] * lmb[m00] * rho
    tau[m01] = 1 + lam[m01] * rho
    tau[m10] = 1 + lmb[m10] * rho
    tau[m11] = 1 - rho
    tau = np.maximum(tau, _TAU_FLOOR)
    loglik = np.sum(w * (np.log(tau) + x * np.log(lam) - lam + y * np.log(lmb) - lmb))
    # d log tau / d log λ, d log λ' and d rho, nonzero only for the four low scores
    dtau_lam, dtau_lmb, dtau_rho = np.zeros_like(lam), np.zeros_like(lam), np.zeros_like(lam)
    dtau_lam[m00] = -lam[m00] * lmb[m00] * rho / tau[m00]
    dtau_lmb[m00] = dtau_lam[m00]
    dtau_rho[m00] = -lam[m00] * lmb[m00] / tau[m00]
    dtau_lam[m01] = lam[m01] * rho / tau[m01]
    dtau_rho[m01] = lam[m01] / tau[m01]
    dtau_lmb[m10] = lmb[m10] * rho / tau[m10]
    dtau_rho[m10] = lmb[m10] / tau[m10]
    dtau_rho[m11] = -1 / tau[m11]
    g_lam = w * (x - lam + dtau_lam)
    g_lmb = w * (y - lmb + dtau_lmb)
    grad = np.empty_like(theta)
    grad[:n] = np.bincount(hi, g_lam, n) + np.bincount(ai, g_lmb, n)
    grad[n : 2 * n] = np.bincount(ai, g_lam, n) + np.bincount(hi, g_lmb, n)
    grad[2 * n : 2 * n + nl] = np.bincount(lv, g_lam + g_lmb, nl)
    grad[2 * n + nl : 2 * n + 2 * nl] = np.bincount(lv, g_lam, nl)
    grad[2 * n + 2 * nl] = np.sum(w * dtau_rho)
    penalty = shrinkage * (np.sum((att - prior_att) ** 2) + np.sum((dfc - prior_def) ** 2))
    grad[:n] -= 2 * shrinkage * (att - prior_att)
    grad[n : 2 * n] -= 2 * shrinkage * (dfc - prior_def)
    grad[2 * n + 2 * nl + 1] = -2 * shrinkage * np.sum(lower * (att - prior_att))
    grad[2 * n + 2 * nl + 2] = 2 * shrinkage * np.sum(lower * (dfc - prior_def))
    return -(loglik - penalty), -grad


def fit(results: Sequence[Result], params: DixonColesParams | None = None) -> DixonColesFit:
    """Maximum penalised weighted likelihood; ``results`` must be non-empty, oldest first."""
    params = params or DixonColesParams()
    return _fit_cached(tuple(results), params)


@lru_cache(maxsize=16)
def _fit_cached(results: tuple[Result, ...], params: DixonColesParams) -> DixonColesFit:
    if not results:
        raise ValueError("Dixon-Coles needs at least one finished match")
    teams: dict[Hashable, int] = {}
    for r in results:
        teams.setdefault(r.home_id, len(teams))
        teams.setdefault(r.away_id, len(teams))
    n = len(teams)
    hi = np.array([teams[r.home_id] for r in results])
    ai = np.array([teams[r.away_id] for r in results])
    x = np.array([r.home_goals for r in results], dtype=float)
    y = np.array([r.away_goals for r in results], dtype=float)
    newest = results[-1].date
    age = np.array([(newest - r.date).total_seconds() / 86400 for r in results])
    w = np.exp(-params.xi * age)
    lv = np.array([r.level for r in results], dtype=int)
    lower = _lower_based(hi, ai, lv, w, n)
    prior_att, prior_def = _priors(results, teams, params)
    data = _FitData.build(n, hi, ai, x, y, w, lv, lower, prior_att, prior_def, params.shrinkage)
    nl = data.levels
    mean_goals = max((x.sum() + y.sum()) / (2 * len(results)), 0.1)
    gap0 = TIER_GAP_START if lower.any() else 0.0
    goal_rate, home_edge = [np.log(mean_goals)] * nl, [0.25] * nl
    theta0 = np.concatenate(
        [prior_att - gap0 * lower, prior_def + gap0 * lower, goal_rate, home_edge, [-0.05, gap0, gap0]]
    )
    gap_bounds = (0.0, 2.0) if lower.any() else (0.0, 0.0)
    bounds = [(None, None)] * (2 * n + 2 * nl) + [RHO_BOUNDS, gap_bounds, gap_bounds]
    solution = minimize(negative_log_posterior, theta0, args=(data,), jac=True, method="L-BFGS-B", bounds=bounds)
    theta = solution.x
    draw_factor = _league_draw_factor(theta, data, w)
    return DixonColesFit(
        teams=teams,
        attack=theta[:n],
        defence=theta[n : 2 * n],
        mu=float(theta[2 * n]),
        home=float(theta[2 * n + nl]),
        rho=float(theta[2 * n + 2 * nl]),
        params=params,
        n_matches=len(results),
        tier_gap=(float(theta[-2]), float(theta[-1])),
        draw_factor=draw_factor,
    )


def _league_draw_factor(theta: np.ndarray, data: _FitData, w: np.ndarray) -> float:
    """The draw factor of the league's own matches (level 0), time-weighted like the goals.

    The goals model sets the draw rate only through the goal rates and rho (which touches 0-0
    and 1-1 within its bounds), so the league's draws before kickoff calibrate the diagonal.
    """
    n, nl, top = data.n, data.levels, data.lv == 0
    att, dfc = theta[:n], theta[n : 2 * n]
    mu, home, rho = theta[2 * n : 2 * n + nl], theta[2 * n + nl : 2 * n + 2 * nl], theta[2 * n + 2 * nl]
    lam = np.exp(mu[0] + home[0] + att[data.hi[top]] + dfc[data.ai[top]])
    lmb = np.exp(mu[0] + att[data.ai[top]] + dfc[data.hi[top]])
    independent = independent_draw_probabilities(lam, lmb, int(data.x.max()) + 10)
    # rho scales 0-0 by (1 - λμ·rho) and 1-1 by (1 - rho); both lose rho·λμ·P(0,0), so draws lose 2·rho·λμ·e^-(λ+μ)
    draw_p = np.clip(independent - 2 * rho * lam * lmb * np.exp(-lam - lmb), 1e-6, 1 - 1e-6)
    return fit_draw_factor(draw_p, (data.x[top] == data.y[top]).astype(float), w[top])


def _lower_based(hi: np.ndarray, ai: np.ndarray, lv: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """1.0 for each team most of whose (time-weighted) matches were in a lower tier."""
    total = np.bincount(hi, w, n) + np.bincount(ai, w, n)
    below = np.bincount(hi, w * (lv > 0), n) + np.bincount(ai, w * (lv > 0), n)
    return (below > total / 2).astype(float)
