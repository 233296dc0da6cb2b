"""Two real processes share one per-minute budget through Redis and never exceed it together."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.fakes.fake_api_football import FakeApiFootball, demo_dataset

ROOT = Path(__file__).resolve().parents[2]
BUDGET, WINDOW = 5, 2  # 5 requests per 2 seconds: the per-minute rule, shortened

WORKER = """
import sys, time
import django
django.setup()
from matches.api_football import ApiFootballClient

base_url, key, redis_url, count, start_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
client = ApiFootballClient(
    base_url=base_url, api_key=key, redis_url=redis_url,
    requests_per_minute=int(sys.argv[6]), window_seconds=int(sys.argv[7]), max_retries=0,
)
time.sleep(max(0.0, start_at - time.time()))
for _ in range(count):
    client.get("fixtures", id=1100000)
"""


@pytest.mark.slow
def test_two_processes_sharing_the_redis_budget_never_exceed_it(redis_conn):
    per_process = 6
    # The fake enforces the same budget: one request too many would fail a worker (it does not retry).
    with FakeApiFootball(
        fixtures=demo_dataset(), minute_limit=BUDGET, window_seconds=WINDOW, enforce_minute_limit=True
    ) as fake:
        start_at = time.time() + 3  # both start together, after Django has set up
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
        args = [
            fake.base_url,
            fake.api_key,
            settings.REDIS_URL,
            str(per_process),
            str(start_at),
            str(BUDGET),
            str(WINDOW),
        ]
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        errors = [worker.communicate(timeout=60)[1] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], errors
        log = fake.requests

    assert len(log) == 2 * per_process
    assert {entry.outcome for entry in log} == {"ok"}
    times = sorted(entry.time for entry in log)
    busiest = max(sum(1 for t in times if start <= t < start + WINDOW) for start in times)
    assert busiest <= BUDGET
    # And the budget was really contended: 12 requests at 5 per window need at least two waits.
    assert times[-1] - times[0] >= 2 * WINDOW
