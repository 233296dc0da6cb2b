"""Services of the predictions app: generating and settling predictions."""

from predictions.services.settlement import SettlementRefused, SettlementResult, settle_match

__all__ = ["SettlementRefused", "SettlementResult", "settle_match"]
