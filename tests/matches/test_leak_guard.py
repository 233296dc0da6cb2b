"""The guard: one place that rejects any fact dated at or after kickoff."""

from datetime import date, timedelta

import pytest

from matches.services.leak_guard import (
    RESULT_KNOWN_AFTER,
    LeakError,
    MatchFact,
    PreKickoffFacts,
    assert_before_kickoff,
    assert_payload_before_kickoff,
)
from tests.factories import utc

KICKOFF = utc(2025, 1, 5, 16, 30)


def _fact(when, external_id=None) -> MatchFact:
    return MatchFact(
        date=when,
        competition_id=1,
        league_code="en.1",
        league_external_id=None,
        season=2024,
        competition="Premier League",
        home_id=1,
        home_name="A",
        away_id=2,
        away_name="B",
        home_goals=1,
        away_goals=0,
        source="db",
        external_id=external_id,
    )


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=1), timedelta(days=30)])
def test_guard_rejects_a_datetime_at_or_after_kickoff(offset):
    with pytest.raises(LeakError):
        assert_before_kickoff(KICKOFF + offset, KICKOFF)


def test_guard_accepts_a_datetime_one_second_before_kickoff():
    assert_before_kickoff(KICKOFF - timedelta(seconds=1), KICKOFF)


def test_guard_compares_instants_not_wall_clocks():
    # 17:00 in Berlin is 16:00 UTC: before a 16:30 UTC kickoff.
    assert_before_kickoff("2025-01-05T17:00:00+01:00", KICKOFF)
    with pytest.raises(LeakError):
        assert_before_kickoff("2025-01-05T17:30:00+01:00", KICKOFF)


def test_guard_treats_a_bare_date_on_kickoff_day_as_a_leak():
    assert_before_kickoff(date(2025, 1, 4), KICKOFF)
    with pytest.raises(LeakError):
        assert_before_kickoff(date(2025, 1, 5), KICKOFF)


@pytest.mark.parametrize("value", [None, "yesterday", "2025-01-04T10:00:00"])
def test_guard_rejects_dates_it_cannot_judge(value):
    with pytest.raises(LeakError):
        assert_before_kickoff(value, KICKOFF)


def test_collector_raises_when_code_adds_a_fact_from_kickoff_or_later():
    facts = PreKickoffFacts(KICKOFF)
    facts.add(_fact(KICKOFF - timedelta(days=1)))
    with pytest.raises(LeakError):
        facts.add(_fact(KICKOFF))
    with pytest.raises(LeakError):
        facts.add(_fact(KICKOFF + timedelta(days=7)))
    assert len(facts) == 1


def test_collector_keeps_one_copy_of_a_fixture_known_to_both_sources():
    facts = PreKickoffFacts(KICKOFF)
    facts.add(_fact(KICKOFF - timedelta(days=1), external_id=42))
    facts.add(_fact(KICKOFF - timedelta(days=1), external_id=42))
    assert len(facts) == 1


def test_payload_walk_finds_a_late_date_however_deep():
    payload = {"schema": 1, "table": {"date": None, "rows": []}, "x": [{"y": [{"date": KICKOFF.isoformat()}]}]}
    with pytest.raises(LeakError, match=r"data\.x\[0\]\.y\[0\]\.date"):
        assert_payload_before_kickoff(payload, KICKOFF)


def test_payload_walk_checks_a_date_under_any_key_but_the_kickoff_it_is_as_of():
    """A later fact stored under a key the walk did not know (here 'last_played') still raises;
    the analysis's own as_of and kickoff_time name the kickoff and are not facts."""
    as_of = {"as_of": KICKOFF.isoformat(), "match": {"kickoff_time": KICKOFF.isoformat()}}
    assert_payload_before_kickoff({**as_of, "rest": {"last_played": (KICKOFF - timedelta(days=3)).isoformat()}},
                                  KICKOFF)
    with pytest.raises(LeakError, match=r"data\.rest\.last_played"):
        assert_payload_before_kickoff({**as_of, "rest": {"last_played": KICKOFF.date().isoformat()}}, KICKOFF)
    with pytest.raises(LeakError, match=r"data\.notes\[1\]"):
        assert_payload_before_kickoff({"notes": ["2 wins", (KICKOFF + timedelta(days=1)).isoformat()]}, KICKOFF)


def test_payload_walk_accepts_earlier_dates_and_empty_aggregates():
    earlier = (KICKOFF - timedelta(hours=3)).isoformat()
    assert_payload_before_kickoff({"a": {"date": None}, "b": [{"date": earlier}]}, KICKOFF)


def test_a_result_still_being_played_at_kickoff_is_a_leak():
    """A result is dated by its kickoff but known only once the match is over."""
    still_playing = KICKOFF - RESULT_KNOWN_AFTER + timedelta(minutes=1)
    with pytest.raises(LeakError):
        assert_payload_before_kickoff({"b": [{"date": still_playing.isoformat()}]}, KICKOFF)
    facts = PreKickoffFacts(KICKOFF)
    with pytest.raises(LeakError, match="known at its end"):
        facts.add(_fact(still_playing))
    facts.add(_fact(KICKOFF - RESULT_KNOWN_AFTER - timedelta(minutes=1)))
    assert len(facts) == 1
