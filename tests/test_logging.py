"""LOG_FORMAT=json: one JSON object per line, carrying the extra fields such as the match id."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from rq import Queue

from config.logging import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_line_without_a_match_id_takes_the_one_its_backfill_job_id_names():
    record = logging.LogRecord("rq.worker", logging.INFO, __file__, 1, "backfill: Job OK (%s)", ("predict-retro-1131",),
                               None)
    assert json.loads(JsonFormatter().format(record))["match_id"] == 1131
    plain = logging.LogRecord("rq.worker", logging.INFO, __file__, 1, "Worker started", (), None)
    assert "match_id" not in json.loads(JsonFormatter().format(plain))


def test_a_real_worker_under_log_format_json_prints_only_json_lines_with_the_match_id(tmp_path, redis_conn):
    """RQ's own worker lines included: without a handler of ours, RQ installs a plain-text one."""
    Queue("backfill", connection=redis_conn).enqueue("builtins.len", [1, 2], job_id="settle-retro-1131")
    env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "DATABASE_URL": f"sqlite:///{tmp_path}/db"}

    done = subprocess.run([sys.executable, "manage.py", "rqworker", "backfill", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)

    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 0 and lines, done.stderr
    payloads = [json.loads(line) for line in lines]  # raises on any plain-text line
    assert any(p.get("match_id") == 1131 and "settle-retro-1131" in p["message"] for p in payloads)
