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

A small field: when the context says how many tips the match will get
(``_field_size``, this one included), each tendency's quota is the
expectation over how many of the others tip it, counting this tip in its own
quota. In a field of four, a home tip beside the 2-1 baseline's is at least 2
of 4 (quota 3), often 3 of 4 (quota 2); shares alone said 3 for nearly every
home tip, so home tips were overrated (in fr.1 2024-25, 87 of Elo's 154 home
tips were paid 2 after an assumed 3). Figures: README "Model evaluation".
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import binom

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
    quotas: Sequence[float]
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


def estimate_shares(
    matrix: np.ndarray, estimate: str | Sequence[float], field_shares: Sequence[float] | None = None
) -> tuple[float, float, float]:
    """The assumed chance that another member of the field tips home, draw, away on this match."""
    own = tendency_probabilities(matrix)
    if estimate == "field":
        if not field_shares or sum(field_shares) <= 0:
            return own
        total = sum(field_shares)
        blended = [(p + s / total) / 2 for p, s in zip(own, field_shares, strict=True)]
        return blended[0], blended[1], blended[2]
    if estimate == "model":
        return own
    shares = TYPICAL_FIELD_SHARES if estimate == "typical" else estimate
    total = sum(shares)
    if total <= 0 or any(s < 0 for s in shares):
        raise ValueError(f"field shares must be non-negative with a positive sum, got {list(shares)}")
    return shares[0] / total, shares[1] / total, shares[2] / total


def estimate_quotas(
    matrix: np.ndarray, estimate: str | Sequence[float], field_shares: Sequence[float] | None = None
) -> Quotas:
    """The quotas in a field too large for one more tip to move them."""
    return quotas_from_shares(estimate_shares(matrix, estimate, field_shares))


def expected_quotas(probabilities: Sequence[float], field_size: int) -> tuple[float, float, float]:
    """E[quota] of each tendency for a tip that joins ``field_size - 1`` others, each tipping it with ``probabilities``.

    A small field's quota counts the tip itself: in a field of four, a home tip beside one other
    home tip is 2 of 4 (quota 3), never the near-6 an infinitesimal share would suggest.
    """
    others = field_size - 1
    values = []
    for p in probabilities:
        chances = binom.pmf(np.arange(others + 1), others, min(max(p, 0.0), 1.0))
        values.append(float(sum(c * quota_for(1 + k, field_size) for k, c in enumerate(chances))))
    return values[0], values[1], values[2]


@lru_cache(maxsize=8)
def _unit_tensors(size: int) -> tuple[np.ndarray, ...]:
    """points[tip_h, tip_a, res_h, res_a] with each tendency's quota 1 (others 0), and the bonuses alone.

    Points are linear in the quotas, so any (even fractional, expected) quotas combine these.
    """
    tips = range(MAX_TIP_GOALS + 1)
    units = [Quotas(0, 0, 0), Quotas(1, 0, 0), Quotas(0, 1, 0), Quotas(0, 0, 1)]
    tables = []
    for quotas in units:
        table = np.zeros((len(tips), len(tips), size, size))
        for th in tips:
            for ta in tips:
                for rh in range(size):
                    for ra in range(size):
                        table[th, ta, rh, ra] = score_prediction(th, ta, rh, ra, quotas).total
        tables.append(table)
    bonus = tables[0]
    result = (bonus, *(t - bonus for t in tables[1:]))
    for table in result:
        table.setflags(write=False)  # shared through the cache
    return result


def expected_points(matrix: np.ndarray, quotas: Sequence[float]) -> np.ndarray:
    """E[points] of every tip (tip_h, tip_a) in 0..MAX_TIP_GOALS under ``matrix``."""
    bonus, *units = _unit_tensors(matrix.shape[0])
    table = bonus + sum(q * unit for q, unit in zip(quotas, units, strict=True))
    return np.tensordot(table, matrix, axes=([2, 3], [0, 1]))


def best_tip(
    matrix: np.ndarray,
    estimate: str | Sequence[float] = "model",
    field_shares: Sequence[float] | None = None,
    field_size: int | None = None,
) -> TipChoice:
    """The expected-points-maximising tip; ties go to the likelier scoreline.

    With ``field_size`` (the number of tips the match will get, this one included) the quotas are
    expected over the others' tips, counting this tip in its own quota; without it, the field is
    taken as too large for one tip to matter.
    """
    if field_size and field_size > 1:
        quotas: Sequence[float] = expected_quotas(estimate_shares(matrix, estimate, field_shares), field_size)
    else:
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

