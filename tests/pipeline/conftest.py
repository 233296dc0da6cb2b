from datetime import timedelta

import pytest
from django.utils import timezone
from rq import SimpleWorker

from pipeline import queueing
from tests.factories import CompetitionFactory, PredictionModelFactory
from tests.fakes.fake_api_football import FakeApiFootball

LEAGUE, SEASON = 39, 2024
HOME, AWAY = (33, "Manchester United"), (34, "Newcastle")
OTHER_HOME, OTHER_AWAY = (40, "Liverpool"), (42, "Arsenal")


@pytest.fixture
def kickoff():
    """Kickoff in the real future: the jobs write with the real clock, which stays before it."""
    return (timezone.now() + timedelta(hours=8)).replace(microsecond=0)


@pytest.fixture
def lineup(db):
    return [
        PredictionModelFactory(slug=f"fixed-{h}-{a}", provider="fixed_score", config={"home": h, "away": a})
        for h, a in [(2, 1), (1, 1), (0, 2)]
    ]


@pytest.fixture
def api(settings, db):
    """The fake API-Football over real HTTP, configured as the pipeline's source for league 39."""
    with FakeApiFootball() as server:
        settings.API_FOOTBALL_BASE_URL = server.base_url
        settings.API_FOOTBALL_KEY = server.api_key
        settings.API_FOOTBALL_BACKOFF_BASE = 0.01
        settings.API_FOOTBALL_BACKOFF_CAP = 0.05
        settings.API_FOOTBALL_MAX_RETRIES = 0
        settings.PIPELINE_COMPETITIONS = [f"{LEAGUE}:{SEASON}"]
        CompetitionFactory(external_id=LEAGUE, season=SEASON, name="Premier League")
        yield server


@pytest.fixture
def default_queue(redis_conn):
    return queueing.get_queue()


@pytest.fixture
def work(default_queue):
    """Run every job queued on 'default' in this thread (it sees the test's transaction)."""

    def run() -> None:
        SimpleWorker([default_queue], connection=default_queue.connection).work(burst=True)

    return run
