"""Local statistical predictors: Dixon-Coles, Elo and two baselines, all offline.

The maths (``dixon_coles``, ``elo``, ``baselines``, ``tipping``) works on plain
``Result`` lists with no Django; ``adapters`` turns them into ``Predictor``s.
"""

from predictions.providers.statistical.adapters import (
    DixonColesPredictor,
    EloPredictor,
    FixedScorePredictor,
    MostFrequentPredictor,
)
from predictions.providers.statistical.history import Result, results_from_history

__all__ = [
    "DixonColesPredictor",
    "EloPredictor",
    "FixedScorePredictor",
    "MostFrequentPredictor",
    "Result",
    "results_from_history",
]
