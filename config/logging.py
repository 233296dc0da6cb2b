"""Log formats: one JSON object per line when LOG_FORMAT=json; otherwise text lines that end with the
record's context (match id and name, stage, run...) so a text log can be grepped for a match too."""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed through ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


# The backfill's deterministic job ids name the match: analyze-retro-{match_id} and so on.
_RETRO_JOB_ID = re.compile(r"\b(?:analyze|predict|settle)-retro-(\d+)\b")


def _context(record: logging.LogRecord, message: str) -> dict[str, Any]:
    """The record's ``extra`` fields; a line without a match id gets the one its backfill job id names
    (RQ's own lines, such as "Job OK (predict-retro-1131)", carry no ``extra``)."""
    context = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
    if "match_id" not in context and (found := _RETRO_JOB_ID.search(message)):
        context["match_id"] = int(found.group(1))
    return context


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        payload.update(_context(record, message))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message [match_id=12 match="Arsenal v Chelsea" stage=predict]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record, record.getMessage())
        if not context:
            return line
        fields = " ".join(f"{key}={_text(value)}" for key, value in context.items())
        head, newline, rest = line.partition("\n")  # keep a traceback below the context, not inside it
        return f"{head} [{fields}]{newline}{rest}"


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (" " in text or not text) and isinstance(value, str) else text
