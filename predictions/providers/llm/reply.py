"""Reading a chat-completions reply: the error forms of the servers, the finish reason, the score.

Every function here is linear in the reply's length with bounded nesting, so a
hostile or broken reply becomes a PredictionFailed quickly, never a
RecursionError or a quadratic crawl.
"""

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from predictions.models import MAX_GOALS
from predictions.providers.base import PredictionFailed

# Object nesting allowed in the answer text; {"home": 2, "away": 1} needs one level.
MAX_ANSWER_NESTING = 16
# Objects tried as JSON in one reply; a real answer has one or two, this bounds the time of a flood.
MAX_ANSWER_OBJECTS = 100
# finish_reason values that mean the model ended its answer itself (OpenAI, vLLM, Together, TGI, Ollama...).
NORMAL_FINISH = frozenset({None, "", "stop", "eos", "eos_token", "stop_sequence", "end_turn"})
CUT_OFF_FINISH = frozenset({"length", "max_tokens", "model_length"})
# Error codes/types that name an account without credit or quota: a retry cannot refill it.
# A JSON object opens with a key or closes at once.
_OBJECT_START = re.compile(r'\{\s*["}]')
ACCOUNT_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "insufficient_credits",
     "insufficient_balance", "payment_required"}
)


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # worth a retry: timeouts, 429 rate limits, 5xx
    ACCOUNT = "account"  # no credits or quota: not retried, trips the breaker at once
    AUTH = "auth"
    FATAL = "fatal"


@dataclass(frozen=True)
class ReplyError:
    kind: ErrorKind
    message: str


# --- errors -----------------------------------------------------------------------------


def error_message(body: Any) -> str:
    """The human message of an error body in any of the servers' shapes.

    OpenAI, OpenRouter, Together, Groq, Ollama /v1: ``{"error": {"message", "type", "code"}}``;
    LM Studio (and some proxies): ``{"error": "text"}``; older vLLM: ``{"object": "error", "message"}``.
    """
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        parts = [str(error.get("message") or "").strip(), f"(code {code})" if code else ""]
        return " ".join(part for part in parts if part)[:300]
    if isinstance(error, str):
        return error[:300]
    if body.get("object") == "error":
        code = body.get("code") or body.get("type")
        return " ".join(p for p in (str(body.get("message") or "").strip(), f"(code {code})" if code else "") if p)
    return ""


def _error_codes(body: Any) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    source = error if isinstance(error, dict) else body if isinstance(body, dict) else {}
    return {str(source.get(key)).lower() for key in ("code", "type") if source.get(key) is not None}


def classify_status(status: int, body: Any, fallback: str) -> ReplyError | None:
    """The error of a non-200 reply (None for a 200 without an error body)."""
    message = error_message(body) or fallback
    codes = _error_codes(body)
    if status == 402 or codes & ACCOUNT_CODES:
        return ReplyError(ErrorKind.ACCOUNT, f"HTTP {status} account problem: {message}")
    if status == 429 or status >= 500:
        return ReplyError(ErrorKind.TRANSIENT, f"HTTP {status}: {message}")
    if status in (401, 403):
        return ReplyError(ErrorKind.AUTH, f"HTTP {status} authentication failed: {message}")
    if status != 200:
        return ReplyError(ErrorKind.FATAL, f"HTTP {status}: {message}")
    if isinstance(body, dict) and body.get("error"):
        return _error_in_200(body)
    return None


def _error_in_200(body: dict) -> ReplyError:
    """OpenRouter and some proxies report provider failures inside a 200, with the HTTP code in ``code``."""
    text = f"error in reply: {error_message(body)}"
    error = body["error"]
    code = error.get("code") if isinstance(error, dict) else None
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = 0
    if number == 402 or _error_codes(body) & ACCOUNT_CODES:
        return ReplyError(ErrorKind.ACCOUNT, f"account problem: {text}")
    if number == 429 or number >= 500:
        return ReplyError(ErrorKind.TRANSIENT, text)
    return ReplyError(ErrorKind.FATAL, text)


# --- the completion ---------------------------------------------------------------------


def reply_content(body: dict, *, max_tokens: int) -> str:
    """The answer text of a completion that ended normally; PredictionFailed says why there is none."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise PredictionFailed("reply has no choices")
    choice = choices[0]
    finish = choice.get("finish_reason")
    if finish in CUT_OFF_FINISH:
        raise PredictionFailed(
            f"reply cut off at max_tokens={max_tokens} (finish_reason={finish!r}): an unfinished generation "
            "is no answer; raise max_tokens in the model's config"
        )
    if finish == "content_filter":
        raise PredictionFailed("reply withheld by the provider's content filter (finish_reason='content_filter')")
    if finish not in NORMAL_FINISH:
        raise PredictionFailed(f"generation did not end normally (finish_reason={str(finish)[:40]!r})")
    message = choice.get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts, as some servers return
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        raise PredictionFailed(f"reply has no content (finish_reason={finish!r})")
    return content


# --- the score --------------------------------------------------------------------------


def parse_score(text: str) -> tuple[int, int]:
    """The (home, away) of the one JSON object in a reply; PredictionFailed says why not.

    Code fences and prose around the object are tolerated, as is a reasoning model's
    closed ``<think>`` block (its drafts are not the answer); an unclosed one, deep
    nesting, or anything ambiguous is not.
    """
    if not isinstance(text, str) or not text.strip():
        raise PredictionFailed("empty reply")
    text = strip_reasoning(text)
    objects = json_objects(text)
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


def strip_reasoning(text: str) -> str:
    """``text`` without its ``<think>…</think>`` blocks; an unclosed block means the model never answered.

    A lone ``</think>`` with no opening tag (DeepSeek-R1 templates put ``<think>`` in the prompt)
    ends the reasoning too. One forward pass of ``str.find``: linear.
    """
    lower = text.lower()
    kept: list[str] = []
    position = 0
    first_close, first_open = lower.find("</think>"), lower.find("<think>")
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        position = first_close + len("</think>")
    while True:
        start = lower.find("<think>", position)
        if start == -1:
            kept.append(text[position:])
            return " ".join(kept)
        kept.append(text[position:start])
        end = lower.find("</think>", start)
        if end == -1:
            raise PredictionFailed(
                "reply ends inside an unclosed <think> reasoning block: the model did not finish, "
                "so no draft in it is an answer"
            )
        position = end + len("</think>")


def json_objects(text: str) -> list[dict]:
    """Every outermost JSON object embedded in free text, in order; linear, nesting bounded."""
    decoder = json.JSONDecoder(object_pairs_hook=_object_without_repeated_scores)
    found: list[dict] = []
    accepted_end = attempts = 0
    for start, end in sorted(_brace_spans(text)):
        if start < accepted_end:
            continue  # inside an object already taken
        if not _OBJECT_START.match(text, start):
            continue  # "{ y }" in prose: no JSON object starts like that, skip the decoder
        attempts += 1
        if attempts > MAX_ANSWER_OBJECTS:
            raise PredictionFailed(f"reply holds more than {MAX_ANSWER_OBJECTS} JSON-like objects: no single answer")
        try:
            value = decoder.decode(text[start:end])
        except ValueError:  # JSONDecodeError, or an integer too long to convert
            continue  # an inner span may still be one
        if isinstance(value, dict):
            found.append(value)
            accepted_end = end
    return found


def _brace_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced ``{…}``, strings inside braces skipped; deep nesting fails."""
    stack: list[tuple[str, int]] = []
    spans: list[tuple[int, int]] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char in "{[":
            if char == "[" and not stack:
                continue  # a bracket in prose
            stack.append((char, index))
            if len(stack) > MAX_ANSWER_NESTING:
                raise PredictionFailed(f"reply nests brackets deeper than {MAX_ANSWER_NESTING} levels")
        elif not stack:
            continue
        elif char == '"':
            in_string = True
        elif char == "]" and stack[-1][0] == "[":
            stack.pop()
        elif char == "}":
            while stack:
                kind, start = stack.pop()
                if kind == "{":
                    spans.append((start, index + 1))
                    break
    return spans


def _object_without_repeated_scores(pairs: list[tuple[str, Any]]) -> dict:
    """json keeps the last of repeated keys; {"home": 2, "away": 1, "home": 3} is no answer."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj and key in ("home", "away"):
            raise PredictionFailed(f"JSON object repeats {key!r}: {json.dumps(obj[key])} and {json.dumps(value)}")
        obj[key] = value
    return obj


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
