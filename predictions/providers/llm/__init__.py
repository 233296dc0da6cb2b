"""LLM predictions over the OpenAI chat-completions protocol.

Together AI, OpenRouter, vLLM, Ollama (``/v1``) and LM Studio all serve
``POST {base_url}/chat/completions``, so one client covers every hosted and local
LLM in the lineup. Three modules, one job each:

- ``client.py``: the HTTP call (total deadline, body cap, retries of transient failures only);
- ``reply.py``: the servers' error shapes, the finish reason, the score in the answer;
- ``prompt.py``: the versioned prompt templates (``predictions/prompts/<version>/``).

``PredictionModel.config`` keys:

- ``model`` (required): the remote model id, e.g. ``meta-llama/Llama-3.3-70B-Instruct-Turbo``.
- ``base_url_setting``: a key of ``settings.LLM_BASE_URLS`` (``TOGETHER_BASE_URL``...), or
  ``base_url``: the base URL itself (tests, ad-hoc servers); ``base_url`` wins when both are set.
- ``api_key_env``: the environment variable holding the key, sent as a Bearer token.
- ``api_key_optional`` (default false): local vLLM/Ollama/LM Studio servers need no key.
- ``temperature`` (default 0.0); ``max_tokens`` (default ``settings.LLM_MAX_TOKENS``, 4096: a
  reasoning model thinks before it answers, and a reply cut off at the limit is never a tip);
  ``json_mode`` (default false: sends ``response_format={"type": "json_object"}``, which not
  every server supports); ``prompt_version`` (default the current one, ``v2``).
- ``timeout`` (seconds, default ``settings.LLM_TIMEOUT``): the deadline of each whole call;
  ``max_retries`` (default ``settings.LLM_MAX_RETRIES``), ``retry_backoff`` (first delay in
  seconds, default 0.5, doubled per retry) and ``retry_backoff_max`` (default 8.0; also caps a
  server's Retry-After).
"""

from predictions.providers.llm.client import OpenAICompatiblePredictor
from predictions.providers.llm.prompt import PROMPT_VERSION, build_prompt, build_system_prompt, summarise_analysis
from predictions.providers.llm.reply import parse_score

__all__ = [
    "PROMPT_VERSION",
    "OpenAICompatiblePredictor",
    "build_prompt",
    "build_system_prompt",
    "parse_score",
    "summarise_analysis",
]
