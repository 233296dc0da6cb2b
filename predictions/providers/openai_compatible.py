"""Kept for imports from before the split: the provider lives in ``predictions.providers.llm``."""

from predictions.providers.llm import (
    PROMPT_VERSION,
    OpenAICompatiblePredictor,
    build_prompt,
    build_system_prompt,
    parse_score,
    summarise_analysis,
)

__all__ = [
    "PROMPT_VERSION",
    "OpenAICompatiblePredictor",
    "build_prompt",
    "build_system_prompt",
    "parse_score",
    "summarise_analysis",
]
