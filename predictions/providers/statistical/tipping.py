"""Choose the tip that maximises expected Kicktipp points under a score distribution.

The most likely scoreline is not the best tip: 1-1 may be the single likeliest
score while a home win is the likeliest tendency, and the quota rule pays more
for tendencies the field avoids. The points come from ``predictions.scoring``
itself, so the tip optimises exactly the rules it will be settled by.

The quotas depend on the other predictors' tips, unknown before kickoff, so
they are estimated from assumed tendency shares of the field:

- ``"field"`` (the default): the field's real tips on the competition's
  matches settled before kickoff (``_field_shares`` of the context, counts of
  home/draw/away), averaged with this model's own tendency probabilities so a
  clear favourite still draws the field's tips; ``"model"`` when unknown;
- ``"model"``: the field tips like this model's own tendency probabilities;
- ``"typical"``: a fixed split close to what tipping crowds do
  (``TYPICAL_FIELD_SHARES``, home 60 / draw 15 / away 25);
- an explicit ``(home, draw, away)`` share triple.

Why "field" and not "typical": with ``"model"`` the tip assumed the others tip
like itself, so away and draw quotas were underestimated and ``"typical"``
(which assumes few away/draw tips) earned more quota points. "typical" is
still a guess about a crowd; "field" measures the actual one, before kickoff.
Figures: README "Model evaluation".
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from predictions.scoring import Quotas, quota_for, score_prediction

TYPICAL_FIELD_SHARES = (0.60, 0.15, 0.25)
MAX_TIP_GOALS = 6
QUOTA_ESTIMATES = ("field", "model", "typical")
_SHARE_RESOLUTION = 1000


@dataclass(frozen=True)
class TipChoice:
    home: int
    away: int
    expected_points: float
    quotas: Quotas
    probability: float


def tendency_probabilities(matrix: np.ndarray) -> tuple[float, float, float]:
    """P(home win), P(draw), P(away win) of a score matrix indexed [home goals, away goals]."""
    return float(np.tril(matrix, -1).sum()), float(np.trace(matrix)), float(np.triu(matrix, 1).sum())


def quotas_from_shares(shares: Sequence[float]) -> Quotas:
    """The platform's quotas if the field's tips split by ``shares`` (home, draw, away)."""
    total = sum(shares)
    if total <= 0 or any(s < 0 for s in shares):
        raise ValueError(f"field shares must be non-negative with a positive sum, got {list(shares)}")
    counts = [round(_SHARE_RESOLUTION * s / total) for s in shares]
    n = sum(counts)
    return Quotas(*(quota_for(c, n) for c in counts))


def estimate_quotas(
    matrix: np.ndarray, estimate: str | Sequence[float], field_shares: Sequence[float] | None = None
) -> Quotas:
    if estimate == "field":
        own = tendency_probabilities(matrix)
        if not field_shares or sum(field_shares) <= 0:
            return quotas_from_shares(own)
        total = sum(field_shares)
        return quotas_from_shares([(p + s / total) / 2 for p, s in zip(own, field_shares, strict=True)])
    if estimate == "model":
        return quotas_from_shares(tendency_probabilities(matrix))
    if estimate == "typical":
        return quotas_from_shares(TYPICAL_FIELD_SHARES)
    return quotas_from_shares(estimate)


@lru_cache(maxsize=256)
def _points_tensor(quotas: Quotas, size: int) -> np.ndarray:
    """points[tip_h, tip_a, res_h, res_a] under the platform's rules, for tips up to MAX_TIP_GOALS."""
    tips = range(MAX_TIP_GOALS + 1)
    table = np.zeros((len(tips), len(tips), size, size))
    for th in tips:
        for ta in tips:
            for rh in range(size):
                for ra in range(size):
                    table[th, ta, rh, ra] = score_prediction(th, ta, rh, ra, quotas).total
    table.setflags(write=False)
    return table


def expected_points(matrix: np.ndarray, quotas: Quotas) -> np.ndarray:
    """E[points] of every tip (tip_h, tip_a) in 0..MAX_TIP_GOALS under ``matrix``."""
    return np.tensordot(_points_tensor(quotas, matrix.shape[0]), matrix, axes=([2, 3], [0, 1]))


def best_tip(
    matrix: np.ndarray, estimate: str | Sequence[float] = "model", field_shares: Sequence[float] | None = None
) -> TipChoice:
    """The expected-points-maximising tip; ties go to the likelier scoreline."""
    quotas = estimate_quotas(matrix, estimate, field_shares)
    values = expected_points(matrix, quotas)
    n = MAX_TIP_GOALS + 1
    likelihood = np.zeros((n, n))
    k = min(n, matrix.shape[0])
    likelihood[:k, :k] = matrix[:k, :k]
    order = np.lexsort((-likelihood.ravel(), -np.round(values.ravel(), 12)))
    home, away = divmod(int(order[0]), n)
    return TipChoice(home, away, float(values[home, away]), quotas, float(likelihood[home, away]))


def most_likely_tip(matrix: np.ndarray) -> tuple[int, int]:
    home, away = np.unravel_index(int(np.argmax(matrix)), matrix.shape)
    return int(home), int(away)

