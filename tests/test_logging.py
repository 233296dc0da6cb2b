"""LOG_FORMAT=json: one JSON object per line, carrying the extra fields such as the match id."""

import json
import logging

from config.logging import JsonFormatter


def test_json_lines_carry_the_match_id_and_the_message():
    record = logging.LogRecord("backfill.service", logging.INFO, __file__, 1, "stage %s ok", ("predict",), None)
    record.match_id = 42
    line = JsonFormatter().format(record)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["match_id"] == 42 and payload["message"] == "stage predict ok" and payload["level"] == "INFO"


def test_exceptions_stay_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc"]
