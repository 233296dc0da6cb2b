"""The fake itself: shapes a faithful client relies on, and the standalone mode a demo uses."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import requests

from tests.fakes.fake_api_football import DEFAULT_KEY, FakeApiFootball, demo_dataset

ROOT = Path(__file__).resolve().parents[2]


def get(fake: FakeApiFootball, path: str, **params) -> requests.Response:
    return requests.get(f"{fake.base_url}/{path}", params=params, headers={"x-apisports-key": fake.api_key}, timeout=5)


def test_quota_headers_decrement_per_call_except_status():
    with FakeApiFootball(fixtures=demo_dataset(), daily_limit=10, minute_limit=5) as fake:
        first = get(fake, "fixtures", id=1_100_000).headers
        get(fake, "status")
        second = get(fake, "fixtures", id=1_100_000).headers

    assert (first["x-ratelimit-requests-remaining"], second["x-ratelimit-requests-remaining"]) == ("9", "8")
    assert (first["X-RateLimit-Remaining"], second["X-RateLimit-Remaining"]) == ("4", "3")


def test_standings_are_a_list_of_groups_of_rows():
    with FakeApiFootball(fixtures=demo_dataset()) as fake:
        body = get(fake, "standings", league=39, season=2024).json()

    (group,) = body["response"][0]["league"]["standings"]
    assert [row["rank"] for row in group] == [1, 2, 3, 4]
    assert sum(row["all"]["played"] for row in group) == 2 * 8
    assert body["parameters"] == {"league": "39", "season": "2024"}


def test_teams_come_from_the_dataset():
    with FakeApiFootball(fixtures=demo_dataset()) as fake:
        body = get(fake, "teams", league=39, season=2024).json()

    assert [item["team"]["id"] for item in body["response"]] == [33, 34, 40, 42]


def test_the_enforced_minute_limit_answers_a_rate_limit_error():
    with FakeApiFootball(fixtures=demo_dataset(), minute_limit=1, enforce_minute_limit=True) as fake:
        get(fake, "fixtures", id=1_100_000)
        body = get(fake, "fixtures", id=1_100_000).json()

    assert "rateLimit" in body["errors"] and body["response"] == []


def test_the_fake_runs_standalone_for_a_demo():
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_api_football", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        base_url = line.split(" on ")[1].split()[0]
        request = urllib.request.Request(f"{base_url}/status", headers={"x-apisports-key": DEFAULT_KEY})
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
    finally:
        server.terminate()
        server.wait(timeout=5)

    assert body["errors"] == [] and body["response"]["subscription"]["active"] is True
