"""The HTTP side of the LLM provider: one bounded chat-completions call, retried only when transient.

Each call has a total deadline (``timeout``: connect, headers and body) and a
body cap (``settings.LLM_MAX_BYTES``), both enforced by ``matches.bounded_http``,
which the API-Football client shares. Account problems (OpenAI's 429
``insufficient_quota``, a 402 from OpenRouter or Together) raise AccountProblem
at once: a retry cannot refill an account.
"""

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings

from matches.bounded_http import (
    BodyTooLarge,
    BoundedResponse,
    CallFailed,
    CallTimedOut,
    JsonTooDeep,
    backoff_delay,
    bounded_call,
    bounded_session,
    loads_bounded,
    redact,
    retry_after_seconds,
)
from predictions.models import PredictionModel
from predictions.providers.base import AccountProblem, MatchContext, PredictionFailed, Tip
from predictions.providers.llm.prompt import PROMPT_VERSION, build_prompt, build_system_prompt
from predictions.providers.llm.reply import ErrorKind, classify_status, parse_score, reply_content

logger = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 0.0
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_RETRY_BACKOFF_MAX = 8.0
RAW_EXCERPT_CHARS = 300
MAX_REPLY_JSON_DEPTH = 32


class _Transient(Exception):
    """A failure worth retrying (timeouts, connection errors, rate-limit 429, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAICompatiblePredictor:
    """One chat-completions call per prediction, retried only on transient failures."""

    def __init__(
        self,
        model: PredictionModel,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.config: dict[str, Any] = dict(model.config or {})
        self.session = bounded_session(session)
        self._sleep = sleep
        self.version = str(self.config.get("prompt_version") or PROMPT_VERSION)

    def predict(self, context: MatchContext) -> Tip:
        api_key = self._api_key()
        try:
            return self._predict(context, api_key)
        except PredictionFailed as exc:
            # Servers echo keys in auth errors; no reason may carry one onwards.
            raise type(exc)(redact(str(exc), api_key, mask="***")) from None

    def _predict(self, context: MatchContext, api_key: str) -> Tip:
        url = self._base_url().rstrip("/") + "/chat/completions"
        payload = self._payload(context)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        max_retries = int(self.config.get("max_retries", settings.LLM_MAX_RETRIES))
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                content = self._call(url, payload, headers, api_key)
            except _Transient as exc:
                reason = redact(str(exc), api_key, mask="***")
                if attempt > max_retries:
                    raise PredictionFailed(f"{reason} (after {attempt} attempts)") from None
                delay = self._backoff(attempt, exc.retry_after)
                logger.warning(
                    "model %s: %s; retry %d/%d in %.2fs", self.model.slug, reason, attempt, max_retries, delay
                )
                self._sleep(delay)
                continue
            latency_ms = round((time.monotonic() - started) * 1000)
            home, away = parse_score(content)
            detail = {"latency_ms": latency_ms, "raw": content[:RAW_EXCERPT_CHARS], "attempts": attempt}
            return Tip(home, away, detail=detail, version=self.version)

    def _call(self, url: str, payload: dict, headers: dict[str, str], api_key: str) -> str:
        """One bounded HTTP round trip; returns the reply text or raises _Transient / PredictionFailed."""
        deadline = self._timeout()
        try:
            response = bounded_call(
                self.session, "POST", url, json=payload, headers=headers, deadline=deadline,
                max_bytes=int(settings.LLM_MAX_BYTES), connect_timeout=min(deadline, 10.0),
            )
        except CallTimedOut:
            raise _Transient(f"timed out after {deadline:g}s (the whole call's deadline)") from None
        except CallFailed as exc:
            raise _Transient(str(exc)) from None
        except BodyTooLarge as exc:
            raise PredictionFailed(f"reply too large: {exc} (LLM_MAX_BYTES)") from None
        body = _json_or_none(response)
        error = classify_status(response.status_code, body, redact(response.text[:200], api_key, mask="***"))
        if error is not None:
            if error.kind is ErrorKind.TRANSIENT:
                raise _Transient(error.message, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
            if error.kind is ErrorKind.ACCOUNT:
                raise AccountProblem(
                    f"{error.message}; not retried: add credits or raise the quota of the provider account"
                )
            raise PredictionFailed(error.message)
        if not isinstance(body, dict):
            raise PredictionFailed(f"reply is not a JSON object: {response.text[:200]!r}")
        return reply_content(body, max_tokens=self._max_tokens())

    def _payload(self, context: MatchContext) -> dict:
        payload: dict[str, Any] = {
            "model": self._remote_model(),
            "messages": [
                {"role": "system", "content": build_system_prompt(context, self.version)},
                {"role": "user", "content": build_prompt(context, self.version)},
            ],
            "temperature": float(self.config.get("temperature", DEFAULT_TEMPERATURE)),
            "max_tokens": self._max_tokens(),
        }
        if self.config.get("json_mode"):
            payload["response_format"] = {"type": "json_object"}
        return payload

    def _max_tokens(self) -> int:
        return int(self.config.get("max_tokens", settings.LLM_MAX_TOKENS))

    def _remote_model(self) -> str:
        remote = self.config.get("model")
        if not isinstance(remote, str) or not remote:
            raise PredictionFailed(f"config of {self.model.slug} names no remote model (config key 'model')")
        return remote

    def _base_url(self) -> str:
        if self.config.get("base_url"):
            return str(self.config["base_url"])
        setting = self.config.get("base_url_setting")
        urls: dict[str, str] = settings.LLM_BASE_URLS
        if setting not in urls:
            raise PredictionFailed(f"unknown base_url_setting {setting!r}; expected one of {', '.join(urls)}")
        if not urls[setting]:
            raise PredictionFailed(f"{setting} is empty: set it in the environment")
        return urls[setting]

    def _api_key(self) -> str:
        env_name = self.config.get("api_key_env")
        key = os.environ.get(env_name, "").strip() if env_name else ""
        if not key and not self.config.get("api_key_optional"):
            raise PredictionFailed(f"API key not configured: set {env_name or 'api_key_env in the config'}")
        return key

    def _timeout(self) -> float:
        return float(self.config.get("timeout", settings.LLM_TIMEOUT))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff_delay(
            attempt - 1,
            base=float(self.config.get("retry_backoff", DEFAULT_RETRY_BACKOFF)),
            cap=float(self.config.get("retry_backoff_max", DEFAULT_RETRY_BACKOFF_MAX)),
            retry_after=retry_after,
            jitter=False,
        )


def _json_or_none(response: BoundedResponse) -> Any:
    try:
        return loads_bounded(response.content, max_depth=MAX_REPLY_JSON_DEPTH) if response.content else None
    except JsonTooDeep as exc:
        raise PredictionFailed(f"reply rejected: {exc}") from None
    except ValueError:
        return None
