"""RQ job functions: thin, take ids, re-read the database, return plain dicts."""

from predictions import services


def predict_match(match_id: int, allow_retroactive: bool = False) -> dict:
    """Create the missing predictions; the per-model outcome (created, failed with reason, skipped)."""
    return services.generate_predictions(match_id, allow_retroactive=allow_retroactive).as_dict()


def settle_match(match_id: int) -> dict:
    return services.settle_match(match_id).as_dict()
