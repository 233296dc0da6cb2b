"""Status codes and fixture objects onto our model's values."""

from datetime import UTC, datetime

import pytest

from matches.api_football import STATUS_MAP, MalformedResponse, map_status, parse_fixture
from matches.api_football.parsing import UnknownStatus
from matches.models import MatchStatus
from tests.fakes.fake_api_football import STATUS_LONG, make_fixture

KICKOFF = datetime(2024, 8, 17, 14, 0, tzinfo=UTC)


def fixture(status: str = "FT", goals=(2, 1), **kwargs) -> dict:
    return make_fixture(1, kickoff=KICKOFF, home=(33, "Home"), away=(34, "Away"), status=status, goals=goals, **kwargs)


def test_all_nineteen_documented_status_codes_are_mapped():
    assert set(STATUS_MAP) == set(STATUS_LONG)
    assert len(STATUS_MAP) == 19


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TBD", MatchStatus.SCHEDULED),
        ("NS", MatchStatus.SCHEDULED),
        ("1H", MatchStatus.LIVE),
        ("HT", MatchStatus.LIVE),
        ("2H", MatchStatus.LIVE),
        ("ET", MatchStatus.LIVE),
        ("BT", MatchStatus.LIVE),
        ("P", MatchStatus.LIVE),
        ("LIVE", MatchStatus.LIVE),
        ("SUSP", MatchStatus.LIVE),
        ("INT", MatchStatus.LIVE),
        ("FT", MatchStatus.FINISHED),
        ("AET", MatchStatus.FINISHED),
        ("PEN", MatchStatus.FINISHED),
        ("AWD", MatchStatus.FINISHED),
        ("WO", MatchStatus.FINISHED),
        ("PST", MatchStatus.POSTPONED),
        ("CANC", MatchStatus.CANCELLED),
        ("ABD", MatchStatus.CANCELLED),
    ],
)
def test_status_code_mapping(code, status):
    assert map_status(code) == status


def test_an_unknown_status_code_is_refused():
    with pytest.raises(UnknownStatus):
        map_status("XYZ")


def test_a_finished_fixture_keeps_the_score_and_the_raw_code():
    parsed = parse_fixture(fixture("FT", (2, 1)))

    assert (parsed.status, parsed.status_code, parsed.home_score, parsed.away_score) == ("finished", "FT", 2, 1)
    assert parsed.kickoff_time == KICKOFF
    assert (parsed.home_team.external_id, parsed.away_team.name) == (33, "Away")
    assert (parsed.league.external_id, parsed.league.season) == (39, 2024)


def test_a_shoot_out_keeps_the_score_after_extra_time_not_the_penalties():
    parsed = parse_fixture(fixture("PEN", (3, 3), fulltime=(2, 2), extratime=(1, 1), penalty=(4, 2)))

    assert (parsed.status, parsed.home_score, parsed.away_score) == ("finished", 3, 3)


def test_an_awarded_match_is_finished_with_the_awarded_score():
    parsed = parse_fixture(fixture("AWD", (3, 0)))

    assert (parsed.status, parsed.home_score, parsed.away_score) == ("finished", 3, 0)


def test_a_walkover_without_goals_falls_back_to_the_fulltime_score():
    parsed = parse_fixture(fixture("WO", (None, None), fulltime=(3, 0)))

    assert (parsed.status, parsed.home_score, parsed.away_score) == ("finished", 3, 0)


def test_an_awarded_match_without_any_score_is_cancelled():
    parsed = parse_fixture(fixture("WO", (None, None)))

    assert (parsed.status, parsed.home_score) == ("cancelled", None)


def test_an_abandoned_match_is_cancelled_without_a_score():
    parsed = parse_fixture(fixture("ABD", (1, 0)))

    assert (parsed.status, parsed.status_code, parsed.home_score) == ("cancelled", "ABD", None)


def test_a_live_score_is_not_a_final_score():
    parsed = parse_fixture(fixture("2H", (1, 0), elapsed=67))

    assert (parsed.status, parsed.home_score, parsed.elapsed) == ("live", None, 67)


def test_a_fixture_without_teams_is_malformed():
    broken = fixture()
    del broken["teams"]

    with pytest.raises(MalformedResponse):
        parse_fixture(broken)
