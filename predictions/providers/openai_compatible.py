"""LLM predictions over the OpenAI chat-completions protocol.

Together AI, OpenRouter, vLLM and Ollama all serve ``POST {base_url}/chat/completions``,
so one client covers every hosted and local LLM in the lineup. The prompt is built
from the pre-kickoff analysis alone; the reply must be one JSON object
``{"home": int, "away": int}``.

``PredictionModel.config`` keys:

- ``model`` (required): the remote model id, e.g. ``meta-llama/Llama-3.3-70B-Instruct-Turbo``.
- ``base_url_setting``: a key of ``settings.LLM_BASE_URLS`` (``TOGETHER_BASE_URL``...), or
  ``base_url``: the base URL itself (tests, ad-hoc servers); ``base_url`` wins when both are set.
- ``api_key_env``: the environment variable holding the key, sent as a Bearer token.
- ``api_key_optional`` (default false): local vLLM/Ollama servers need no key.
- ``temperature`` (default 0.0), ``max_tokens`` (default 256), ``json_mode`` (default false:
  sends ``response_format={"type": "json_object"}``, which not every server supports).
- ``timeout`` (seconds, default ``settings.LLM_TIMEOUT``), ``max_retries`` (default
  ``settings.LLM_MAX_RETRIES``), ``retry_backoff`` (first delay in seconds, default 0.5, doubled
  per retry) and ``retry_backoff_max`` (default 8.0; also caps a server's Retry-After).
"""

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import requests
from django.conf import settings

from predictions.models import MAX_GOALS, PredictionModel
from predictions.providers.base import MatchContext, PredictionFailed, Tip

logger = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 256
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_RETRY_BACKOFF_MAX = 8.0
RAW_EXCERPT_CHARS = 300

SYSTEM_PROMPT = (
    "You are a football analyst. Predict the exact final score (after 90 minutes plus stoppage time) "
    "of the match described, using only the pre-match information given. "
    'Answer with exactly one JSON object and nothing else: {"home": <goals of the home team>, '
    '"away": <goals of the away team>}, both non-negative integers.'
)


class _Transient(Exception):
    """A failure worth retrying (timeouts, connection errors, 429, 5xx)."""

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
        self.session = session or requests.Session()
        self._sleep = sleep

    def predict(self, context: MatchContext) -> Tip:
        api_key = self._api_key()
        try:
            return self._predict(context, api_key)
        except PredictionFailed as exc:
            # Servers echo keys in auth errors; no reason may carry one onwards.
            raise PredictionFailed(_scrub(str(exc), api_key)) from None

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
                reason = _scrub(str(exc), api_key)
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
            return Tip(
                home,
                away,
                detail={"latency_ms": latency_ms, "raw": content[:RAW_EXCERPT_CHARS], "attempts": attempt},
            )

    def _call(self, url: str, payload: dict, headers: dict[str, str], api_key: str) -> str:
        """One HTTP round trip; returns the reply text or raises _Transient / PredictionFailed."""
        try:
            response = self.session.post(url, json=payload, headers=headers, timeout=self._timeout())
        except requests.Timeout:
            raise _Transient(f"timed out after {self._timeout()[1]:g}s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(f"connection error: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise PredictionFailed(f"request failed: {type(exc).__name__}") from None

        status = response.status_code
        body = _json_or_none(response)
        message = _error_message(body) or _scrub(response.text[:200], api_key)
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}: {message}", retry_after=_retry_after(response))
        if status in (401, 403):
            raise PredictionFailed(f"HTTP {status} authentication failed: {message}")
        if status != 200:
            raise PredictionFailed(f"HTTP {status}: {message}")
        if not isinstance(body, dict):
            raise PredictionFailed(f"reply is not a JSON object: {response.text[:200]!r}")
        if body.get("error"):
            # OpenRouter and some proxies report provider failures inside a 200.
            code = body["error"].get("code") if isinstance(body["error"], dict) else None
            text = f"error in reply: {_error_message(body)}"
            if _is_transient_code(code):
                raise _Transient(text)
            raise PredictionFailed(text)
        return _reply_content(body)

    def _payload(self, context: MatchContext) -> dict:
        payload: dict[str, Any] = {
            "model": self._remote_model(),
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": build_prompt(context)},
            ],
            "temperature": float(self.config.get("temperature", DEFAULT_TEMPERATURE)),
            "max_tokens": int(self.config.get("max_tokens", DEFAULT_MAX_TOKENS)),
        }
        if self.config.get("json_mode"):
            payload["response_format"] = {"type": "json_object"}
        return payload

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

    def _timeout(self) -> tuple[float, float]:
        read = float(self.config.get("timeout", settings.LLM_TIMEOUT))
        return (min(read, 10.0), read)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = float(self.config.get("retry_backoff", DEFAULT_RETRY_BACKOFF))
        cap = float(self.config.get("retry_backoff_max", DEFAULT_RETRY_BACKOFF_MAX))
        delay = base * 2 ** (attempt - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, cap)


# --- The reply ------------------------------------------------------------------

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def parse_score(text: str) -> tuple[int, int]:
    """The (home, away) of the one JSON object in a reply; PredictionFailed says why not.

    Code fences and prose around the object are tolerated, as is a reasoning model's
    ``<think>`` block (its drafts are not the answer); anything ambiguous is not.
    """
    if not isinstance(text, str) or not text.strip():
        raise PredictionFailed("empty reply")
    text = _THINK_BLOCK.sub(" ", text)
    objects = _json_objects(text)
    candidates = [obj for obj in objects if "home" in obj or "away" in obj]
    if not candidates:
        if objects:
            raise PredictionFailed(f"JSON object lacks 'home' and 'away': {text.strip()[:120]!r}")
        raise PredictionFailed(f"no JSON object in reply: {text.strip()[:120]!r}")
    scores = {_validated(obj) for obj in candidates}
    if len(scores) > 1:
        listed = ", ".join(f"{h}-{a}" for h, a in sorted(scores))
        raise PredictionFailed(f"reply holds conflicting scores: {listed}")
    return scores.pop()


def _object_without_repeated_scores(pairs: list[tuple[str, Any]]) -> dict:
    """json.loads keeps the last of repeated keys; {"home": 2, "away": 1, "home": 3} is no answer."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj and key in ("home", "away"):
            raise PredictionFailed(f"JSON object repeats {key!r}: {json.dumps(obj[key])} and {json.dumps(value)}")
        obj[key] = value
    return obj


def _json_objects(text: str) -> list[dict]:
    """Every top-level JSON object embedded in free text, in order."""
    decoder = json.JSONDecoder(object_pairs_hook=_object_without_repeated_scores)
    found: list[dict] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    return found


def _validated(obj: dict) -> tuple[int, int]:
    goals = []
    for key in ("home", "away"):
        if key not in obj:
            raise PredictionFailed(f"JSON object lacks {key!r}: {json.dumps(obj)[:120]}")
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise PredictionFailed(f"{key!r} must be an integer, got {json.dumps(value)[:40]}")
        if not 0 <= value <= MAX_GOALS:
            raise PredictionFailed(f"{key!r} must be in 0..{MAX_GOALS}, got {value}")
        goals.append(value)
    return goals[0], goals[1]


def _reply_content(body: dict) -> str:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise PredictionFailed("reply has no choices")
    message = choices[0].get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts, as some servers return
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        finish = choices[0].get("finish_reason")
        raise PredictionFailed(f"reply has no content (finish_reason={finish!r})")
    return content


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        parts = [str(error.get("message") or "").strip(), f"(code {error['code']})" if error.get("code") else ""]
        return " ".join(part for part in parts if part)[:300]
    if isinstance(error, str):
        return error[:300]
    return ""


def _is_transient_code(code: Any) -> bool:
    try:
        number = int(code)
    except (TypeError, ValueError):
        return False
    return number == 429 or number >= 500


def _retry_after(response: requests.Response) -> float | None:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


# --- The prompt -----------------------------------------------------------------

# Top-level analysis keys that describe the match itself or raw material, never context.
_SKIPPED_KEYS = frozenset(
    {
        "history", "schema", "sources", "match", "fixture", "status", "status_code", "result", "score",
        "home_score", "away_score", "final_score", "goals", "settled_at",
    }
)
_DATE_KEYS = ("date", "kickoff", "kickoff_time", "played_at", "datetime", "utc_date")
# PostgreSQL's jsonb does not keep key order; render in a stable, readable one.
_KEY_ORDER = {
    key: index
    for index, key in enumerate(
        (
            "as_of", "date", "summary", "form", "rest", "season_record", "table", "head_to_head", "rank", "team",
            "competition", "season", "venue", "opponent", "home", "away", "played", "won", "drawn", "lost",
            "goals_for", "goals_against", "goal_diff", "points", "home_goals", "away_goals", "result", "days",
        )
    )
}
MAX_ROWS = 6
TABLE_LEADERS = 3
MAX_DEPTH = 3
MAX_SUMMARY_CHARS = 5000
MAX_STRING_CHARS = 80


def build_prompt(context: MatchContext) -> str:
    """The user message: who, when, and a compact summary of the pre-kickoff analysis."""
    summary = summarise_analysis(context) or "(no pre-match statistics available)"
    return (
        f"Competition: {context.competition}\n"
        f"Kickoff: {context.kickoff_time:%Y-%m-%d %H:%M} UTC\n"
        f"Home team: {context.home_team}\n"
        f"Away team: {context.away_team}\n\n"
        "Pre-match information (everything below is dated before kickoff):\n"
        f"{summary}\n\n"
        f"Predict the final score of {context.home_team} v {context.away_team}. "
        'Reply with only {"home": <integer>, "away": <integer>}.'
    )


def summarise_analysis(context: MatchContext) -> str:
    """A compact, defensive rendering of ``context.analysis``.

    The analysis schema belongs to the match-data code and may grow, so this walks
    whatever is there: it drops the raw ``history`` list, keeps the latest few rows
    of dated lists (and, for long undated lists such as a table, the leaders plus
    the two teams' rows), and drops any row dated at or after kickoff as a second
    line of defence behind the analysis guard.
    """
    analysis = context.analysis if isinstance(context.analysis, dict) else {}
    lines: list[str] = []
    for key, value in _ordered(analysis):
        if not isinstance(key, str) or key in _SKIPPED_KEYS or key.startswith("_"):
            continue
        _render(_label(key, context), value, context, 0, lines)
    text = "\n".join(lines)
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[:MAX_SUMMARY_CHARS].rsplit("\n", 1)[0] + "\n(truncated)"
    return text


def _label(key: str, context: MatchContext) -> str:
    if key in ("home", "home_team"):
        return f"home team ({context.home_team})"
    if key in ("away", "away_team"):
        return f"away team ({context.away_team})"
    return key.replace("_", " ")


def _render(label: str, value: Any, context: MatchContext, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    if _is_scalar(value):
        lines.append(f"{indent}{label}: {_scalar(value, label)}")
    elif isinstance(value, dict):
        if _dated_at_or_after_kickoff(value, context):
            return
        if all(_is_scalar(item) for item in value.values()):
            lines.append(f"{indent}{label}: {_row(value, context)}")
        elif depth < MAX_DEPTH:
            lines.append(f"{indent}{label}:")
            for key, item in _ordered(value):
                if isinstance(key, str) and key != "history" and not key.startswith("_"):
                    _render(_label(key, context) if depth == 0 else key.replace("_", " "), item, context,
                            depth + 1, lines)
    elif isinstance(value, list):
        _render_list(label, value, context, depth, lines)


def _render_list(label: str, items: list, context: MatchContext, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    if all(_is_scalar(item) for item in items):
        shown = ", ".join(_scalar(item) for item in items[:MAX_ROWS])
        more = f" (+{len(items) - MAX_ROWS} more)" if len(items) > MAX_ROWS else ""
        lines.append(f"{indent}{label}: {shown}{more}")
        return
    rows = [item for item in items if isinstance(item, dict) and not _dated_at_or_after_kickoff(item, context)]
    if not rows:
        return
    chosen = _choose_rows(rows, context)
    more = f" ({len(chosen)} of {len(rows)})" if len(chosen) < len(rows) else ""
    lines.append(f"{indent}{label}{more}:")
    lines.extend(f"{indent}  - {_row(row, context)}" for row in chosen)


def _choose_rows(rows: list[dict], context: MatchContext) -> list[dict]:
    """The latest dated rows, or for long undated lists (a table) the leaders and our two teams."""
    if len(rows) <= MAX_ROWS:
        return rows
    if all(_row_date(row) is not None for row in rows):
        return sorted(rows, key=lambda row: _sortable(_row_date(row)), reverse=True)[:MAX_ROWS]
    ours = {context.home_team_id, context.away_team_id, context.home_team, context.away_team}
    chosen = [
        row for index, row in enumerate(rows)
        if index < TABLE_LEADERS or any(_is_scalar(v) and not isinstance(v, bool) and v in ours for v in row.values())
    ]
    return chosen


def _row(row: dict, context: MatchContext) -> str:
    """``key=value`` pairs; database ids are noise to a language model and are left out."""
    parts = []
    for key, value in _ordered(row):
        if _is_id(key):
            continue
        if _is_scalar(value):
            parts.append(f"{key}={_scalar(value, key)}")
        elif isinstance(value, dict) and all(_is_scalar(item) for item in value.values()):
            parts.extend(f"{key}.{sub}={_scalar(item, sub)}" for sub, item in _ordered(value) if not _is_id(sub))
        elif isinstance(value, list | dict):
            parts.append(f"{key}=[{len(value)} items]")
    return ", ".join(parts)


def _ordered(mapping: dict) -> list[tuple[Any, Any]]:
    return sorted(mapping.items(), key=lambda item: (_KEY_ORDER.get(item[0], len(_KEY_ORDER)), str(item[0])))


def _is_id(key: Any) -> bool:
    return isinstance(key, str) and (key == "id" or key.endswith("_id"))


def _row_date(row: dict) -> datetime | date | None:
    for key in _DATE_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            if len(value) <= 10:
                return parsed.date()
            return parsed
    return None


def _sortable(value: datetime | date | None) -> str:
    return value.isoformat() if value is not None else ""


def _dated_at_or_after_kickoff(row: dict, context: MatchContext) -> bool:
    when = _row_date(row)
    if when is None:
        return False
    if isinstance(when, datetime):
        if when.tzinfo is None:
            return when >= context.kickoff_time.replace(tzinfo=None)
        return when >= context.kickoff_time
    return when >= context.kickoff_time.date()


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _scalar(value: Any, key: Any = None) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if key in _DATE_KEYS and isinstance(value, str) and len(value) > 10:
        try:  # the day is enough context and saves tokens
            return datetime.fromisoformat(value).strftime("%Y-%m-%d")
        except ValueError:
            pass
    text = str(value)
    return text if len(text) <= MAX_STRING_CHARS else text[: MAX_STRING_CHARS - 1] + "…"
