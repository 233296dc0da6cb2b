import pytest
from rq import SimpleWorker

from backfill import queueing
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionModelFactory


@pytest.fixture
def lineup(db):
    """Three always-2-1 baselines: offline, deterministic."""
    return [
        PredictionModelFactory(slug=f"always-2-1-{i}", provider="fixed_score", config={"home": 2, "away": 1})
        for i in range(3)
    ]


@pytest.fixture
def in_process(settings):
    settings.REDIS_URL = ""


@pytest.fixture
def rq_queue(redis_conn, settings):
    settings.BACKFILL_RETRY_BASE_SECONDS = 0
    return queueing.get_queue()


@pytest.fixture
def burst(rq_queue):
    """Run every queued job in this thread (sees the test's transaction)."""

    def run():
        SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)

    return run


@pytest.fixture
def finished_match(db):
    """A finished 2-1 with its analysis, missing every prediction."""
    match = MatchFactory(finished=True, home_score=2, away_score=1)
    MatchAnalysisFactory(match=match)
    return match
