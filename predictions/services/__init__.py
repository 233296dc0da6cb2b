"""Services of the predictions app: generating and settling predictions."""

from predictions.services.generation import PredictionRefused, PredictResult, generate_predictions
from predictions.services.settlement import SettlementRefused, SettlementResult, settle_match

__all__ = [
    "PredictResult",
    "PredictionRefused",
    "SettlementRefused",
    "SettlementResult",
    "generate_predictions",
    "settle_match",
]
