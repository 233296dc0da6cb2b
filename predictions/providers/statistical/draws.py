"""The draw factor both goal models share: independent goals undercount draws.

θ scales the diagonal of a score matrix (then renormalised); it is fitted by maximum likelihood
on the league's own draws before kickoff.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import poisson

DRAW_FACTOR_BOUNDS = (0.5, 2.0)
MIN_DRAW_MATCHES = 30


def independent_draw_probabilities(lam: np.ndarray, mu: np.ndarray, max_goals: int) -> np.ndarray:
    """P(draw) of each match under independent Poisson goals (rows: matches), up to ``max_goals`` each."""
    goals = np.arange(max_goals + 1)
    return np.sum(poisson.pmf(goals, lam[:, None]) * poisson.pmf(goals, mu[:, None]), axis=1)


def fit_draw_factor(draw_p: np.ndarray, drawn: np.ndarray, weights: np.ndarray | None = None) -> float:
    """θ maximising the (weighted) likelihood of draw / no draw, P(draw) = θp / (1 + (θ - 1)p).

    Too few matches (< MIN_DRAW_MATCHES) leave the draws alone (θ = 1).
    """
    if len(drawn) < MIN_DRAW_MATCHES:
        return 1.0
    w = np.ones_like(drawn) if weights is None else weights

    def objective(theta: float) -> float:
        return float(-(np.sum(w * drawn) * np.log(theta) - np.sum(w * np.log1p((theta - 1) * draw_p))))

    return float(minimize_scalar(objective, bounds=DRAW_FACTOR_BOUNDS, method="bounded").x)


def with_draw_factor(matrix: np.ndarray, draw_factor: float) -> np.ndarray:
    """The score matrix with its diagonal scaled by θ, renormalised."""
    matrix[np.diag_indices_from(matrix)] *= draw_factor
    return matrix / matrix.sum()
