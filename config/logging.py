"""Structured logs: one JSON object per line when LOG_FORMAT=json."""

import json
import logging
import re
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed through ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


# The backfill's deterministic job ids name the match: analyze-retro-{match_id} and so on.
_RETRO_JOB_ID = re.compile(r"\b(?:analyze|predict|settle)-retro-(\d+)\b")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a line without a match id gets the one its backfill job id names
    (RQ's own lines, such as "Job OK (predict-retro-1131)", carry no ``extra``)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if "match_id" not in payload and (found := _RETRO_JOB_ID.search(payload["message"])):
            payload["match_id"] = int(found.group(1))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
