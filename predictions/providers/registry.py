"""Which predictor serves which ``PredictionModel.provider``."""

from predictions.models import PredictionModel
from predictions.providers.base import PredictionFailed, Predictor
from predictions.providers.statistical import (
    DixonColesPredictor,
    EloPredictor,
    FixedScorePredictor,
    MostFrequentPredictor,
)

LOCAL_PROVIDERS = {
    PredictionModel.Provider.DIXON_COLES: DixonColesPredictor,
    PredictionModel.Provider.ELO: EloPredictor,
    PredictionModel.Provider.FIXED_SCORE: FixedScorePredictor,
    PredictionModel.Provider.MOST_FREQUENT: MostFrequentPredictor,
}


def build_predictor(model: PredictionModel) -> Predictor:
    """A ready predictor for ``model``; PredictionFailed says why when its config cannot work."""
    if model.provider == PredictionModel.Provider.OPENAI_COMPATIBLE:
        # Imported here so the local models never load the HTTP client.
        from predictions.providers.llm import OpenAICompatiblePredictor

        return OpenAICompatiblePredictor(model)
    config = model.config if model.config is not None else {}
    if not isinstance(config, dict):
        raise PredictionFailed(f"model {model.slug}: config must be a JSON object, got {type(config).__name__}")
    try:
        factory = LOCAL_PROVIDERS[model.provider]
    except KeyError:
        raise PredictionFailed(f"model {model.slug}: unknown provider {model.provider!r}") from None
    return factory(config)
