"""The analysis asks API-Football only for what the database lacks, bounded before kickoff, over real HTTP."""

from datetime import timedelta

import pytest

from matches.models import Match
from matches.services import build_analysis
from matches.services.analysis import _facts_from_api
from matches.services.leak_guard import RESULT_KNOWN_AFTER
from tests.factories import CompetitionFactory, MatchFactory, TeamFactory, utc
from tests.fakes.fake_api_football import FakeApiFootball, make_fixture

pytestmark = pytest.mark.django_db

KICKOFF = utc(2024, 10, 5, 14)
LIV, MUN, ARS = (40, "Liverpool"), (33, "Manchester United"), (42, "Arsenal")


def _ft(fixture_id, when, home, away, goals, *, season=2024, status="FT"):
    return make_fixture(fixture_id, kickoff=when, home=home, away=away, status=status, goals=goals, season=season)


def _dataset() -> list[dict]:
    return [
        _ft(1, utc(2024, 9, 1, 14), LIV, ARS, (2, 1)),
        _ft(2, utc(2024, 9, 14, 14), MUN, LIV, (0, 3)),
        _ft(3, utc(2024, 9, 21, 14), ARS, MUN, (None, None), status="PST"),
        _ft(4, utc(2024, 3, 1, 15), LIV, MUN, (1, 1), season=2023),
        # From kickoff on: the target's own result and a later meeting.
        _ft(5, KICKOFF, LIV, MUN, (5, 0)),
        _ft(6, utc(2024, 12, 1, 14), MUN, LIV, (4, 0)),
    ]


@pytest.fixture
def fake(settings):
    with FakeApiFootball(fixtures=_dataset()) as server:
        settings.API_FOOTBALL_BASE_URL = server.base_url
        settings.API_FOOTBALL_KEY = server.api_key
        settings.REDIS_URL = ""  # the in-process request budget is enough here
        yield server


@pytest.fixture
def target() -> Match:
    competition = CompetitionFactory(external_id=39, season=2024, name="Premier League")
    return MatchFactory(
        external_id=5,
        competition=competition,
        home_team=TeamFactory(external_id=LIV[0], name="Liverpool"),
        away_team=TeamFactory(external_id=MUN[0], name="Manchester United"),
        kickoff_time=KICKOFF,
        finished=True,
        home_score=5,
        away_score=0,
    )


def test_missing_season_is_fetched_with_bounds_that_end_the_day_before_kickoff(fake, target):
    data = build_analysis(target).data
    assert [(r.path, r.params) for r in fake.requests] == [
        ("fixtures", {"league": "39", "season": "2024", "from": "2024-01-01", "to": "2024-10-04"}),
        ("fixtures/headtohead", {"h2h": "40-33", "from": "2014-01-01", "to": "2024-10-04"}),
    ]
    liv, mun = target.home_team_id, target.away_team_id
    assert data["sources"] == {"db": 0, "api": 3}
    rows = {r["team"]: (r["rank"], r["played"], r["points"], r["team_id"]) for r in data["table"]["rows"]}
    # Arsenal is known only to the API: a negative id that cannot clash with our pks.
    assert rows == {"Liverpool": (1, 2, 6, liv), "Arsenal": (2, 1, 0, -42), "Manchester United": (3, 1, 0, mun)}
    assert [(m["date"], m["home_goals"], m["away_goals"]) for m in data["head_to_head"]["meetings"]] == [
        ("2024-09-14T14:00:00+00:00", 0, 3),
        ("2024-03-01T15:00:00+00:00", 1, 1),
    ]
    assert [f["result"] for f in data["form"]["home"]] == ["W", "W", "D"]
    assert [h["date"][:10] for h in data["history"]] == ["2024-03-01", "2024-09-01", "2024-09-14"]


def test_database_history_of_the_season_means_no_api_call(fake, target):
    MatchFactory(
        competition=target.competition,
        home_team=target.home_team,
        kickoff_time=KICKOFF - timedelta(days=7),
        finished=True,
    )
    data = build_analysis(target).data
    assert fake.request_count() == 0
    assert data["sources"] == {"db": 1, "api": 0}


def test_no_api_call_without_a_key_or_without_external_ids(fake, target, settings):
    target.external_id = None
    build_analysis(target)
    target.external_id = 5
    settings.API_FOOTBALL_KEY = ""
    build_analysis(target)
    assert fake.request_count() == 0


def test_api_rows_not_over_before_kickoff_are_dropped_even_if_the_api_returns_them():
    rows = [
        _ft(10, KICKOFF - RESULT_KNOWN_AFTER - timedelta(seconds=1), LIV, ARS, (1, 0)),
        _ft(14, KICKOFF - timedelta(hours=1), ARS, LIV, (3, 3)),  # still being played at kickoff
        _ft(11, KICKOFF, LIV, MUN, (5, 0)),
        _ft(12, KICKOFF + timedelta(days=1), MUN, ARS, (2, 2)),
        _ft(13, KICKOFF - timedelta(days=1), ARS, MUN, (0, 0), status="AWD"),
    ]
    assert [f.external_id for f in _facts_from_api(rows, KICKOFF)] == [10]


def test_the_matchs_own_fixture_never_counts_even_dated_before_our_stored_kickoff(fake):
    """Our kickoff is stale (the match was brought forward 3 days and already played): the API dates
    the match's own result before the kickoff we hold, yet it must not enter its own analysis."""
    competition = CompetitionFactory(external_id=39, season=2024, name="Premier League")
    stale = MatchFactory(
        external_id=5, competition=competition,
        home_team=TeamFactory(external_id=LIV[0], name="Liverpool"),
        away_team=TeamFactory(external_id=MUN[0], name="Manchester United"),
        kickoff_time=KICKOFF + timedelta(days=3),
    )

    analysis = build_analysis(stale)

    assert 5 not in {f.external_id for f in _facts_from_api(_dataset(), stale.kickoff_time, own_fixture_id=5)}
    # Fixtures 1, 2 and 4 (season and head-to-head); not 5, which the API dates at the real kickoff.
    assert analysis.data["sources"] == {"db": 0, "api": 3}
    form_dates = {entry["date"] for side in ("home", "away") for entry in analysis.data["form"][side]}
    assert KICKOFF.isoformat() not in form_dates
