"""Every command but backfill_retroactive: 2 bad usage, 4 a service unavailable; one line, never a traceback."""

import json
import logging
import socket
import subprocess
import sys

import pytest

from config.logging import TextFormatter
from tests.backfill.processes import ROOT, child_env


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**child_env(), **env}, capture_output=True,
        text=True, timeout=120,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


DOWN = {"DATABASE_URL": f"postgres://kickbench:kickbench@127.0.0.1:{_free_port()}/kickbench"}


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["backfill_status"],
        ["sync_models"],
        ["seed_demo"],
        ["load_openfootball", "--league", "en.1", "--season", "2024-25"],
    ],
)
def test_a_database_that_does_not_answer_exits_4_with_one_line(args):
    done = _manage(*args, **DOWN)

    assert done.returncode == 4, done.stderr
    line = _one_line(done.stderr)
    assert "the database is unavailable" in line and "DATABASE_URL" in line


@pytest.mark.slow
@pytest.mark.django_db
def test_api_football_unreachable_exits_4():
    done = _manage(
        "sync_fixtures", "--league", "39", "--season", "2024",
        API_FOOTBALL_KEY="test-key", API_FOOTBALL_BASE_URL=f"http://127.0.0.1:{_free_port()}",
        API_FOOTBALL_MAX_RETRIES="0", API_FOOTBALL_TIMEOUT="2",
    )

    assert done.returncode == 4, done.stderr
    assert "API-Football is unavailable" in _one_line(done.stderr)


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["sync_fixtures", "--league", "x", "--season", "2024"], "--league 'x'"),
        (["load_openfootball", "--league", "xx.9", "--season", "2024-25"], "unknown league"),
        (["seed_demo", "--league", "xx.9"], "--league must be one of"),
        (["evaluate_models", "--league", "xx.9", "--season", "2024-25"], "Example: --league en.1"),
        (["backfill_status", "nope"], "is not a run id"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, says):
    done = _manage(*args)

    assert done.returncode == 2, done.stderr
    assert says in _one_line(done.stderr)


def test_text_log_lines_carry_the_match_id_and_name():
    record = logging.LogRecord("predictions", logging.INFO, __file__, 1, "predicted match", (), None)
    record.match_id, record.match, record.n_created = 12, "Arsenal v Chelsea", 3

    line = TextFormatter().format(record)

    assert line.endswith('predicted match [match_id=12 match="Arsenal v Chelsea" n_created=3]')


def test_text_log_lines_take_the_match_id_a_backfill_job_id_names():
    record = logging.LogRecord("rq.worker", logging.INFO, __file__, 1, "Job OK (%s)", ("settle-retro-77",), None)

    assert TextFormatter().format(record).endswith("Job OK (settle-retro-77) [match_id=77]")


@pytest.mark.slow
def test_demo_json_prints_one_json_document_and_a_second_run_reuses_the_seeded_data():
    """Runs scripts/demo as documented: the embedded default (SQLite in var/, jobs in-process)."""
    first = subprocess.run(["scripts/demo", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    second = subprocess.run(["scripts/demo", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)

    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout)["status"] == "succeeded"
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout)["run_id"] > json.loads(first.stdout)["run_id"]
    assert "Demo data already seeded" in second.stderr and "reusing it" in second.stderr
