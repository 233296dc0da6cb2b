"""Services of the predictions app: generating and settling predictions, and the fixture sync with its re-settlement."""

from predictions.services.generation import PredictionRefused, PredictResult, generate_predictions
from predictions.services.settlement import SettlementRefused, SettlementResult, settle_match
from predictions.services.sync import resettle_changed, sync_and_settle

__all__ = [
    "PredictResult",
    "PredictionRefused",
    "SettlementRefused",
    "SettlementResult",
    "generate_predictions",
    "resettle_changed",
    "settle_match",
    "sync_and_settle",
]
