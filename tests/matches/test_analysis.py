"""build_analysis: context as of kickoff, from our database, nothing from kickoff or later."""

import json
from datetime import timedelta

import pytest

from matches.models import Match
from matches.services import analysis as analysis_module
from matches.services import build_analysis
from matches.services.leak_guard import LeakError, MatchFact
from tests.factories import CompetitionFactory, MatchFactory, TeamFactory, utc

pytestmark = pytest.mark.django_db

KICKOFF = utc(2025, 3, 1, 15)


def _played(competition, home, away, when, home_goals, away_goals, **extra) -> Match:
    return MatchFactory(
        competition=competition,
        home_team=home,
        away_team=away,
        kickoff_time=when,
        finished=True,
        home_score=home_goals,
        away_score=away_goals,
        **extra,
    )


@pytest.fixture
def league():
    """Three teams, a target match A v B at KICKOFF, and three results before it."""
    competition = CompetitionFactory(season=2024)
    a, b, c = TeamFactory(name="Alpha"), TeamFactory(name="Bravo"), TeamFactory(name="Charlie")
    earlier = [
        _played(competition, b, a, KICKOFF - timedelta(days=30), 1, 0),
        _played(competition, a, c, KICKOFF - timedelta(days=14), 2, 0),
        _played(competition, c, b, KICKOFF - timedelta(days=7), 1, 1),
    ]
    target = MatchFactory(competition=competition, home_team=a, away_team=b, kickoff_time=KICKOFF)
    return {"competition": competition, "a": a, "b": b, "c": c, "earlier": earlier, "target": target}


def _plant_later_facts(league) -> list[Match]:
    """Facts from kickoff on: a later meeting, later results, and the target's own result."""
    competition, a, b, c = league["competition"], league["a"], league["b"], league["c"]
    target = league["target"]
    target.status, target.status_code, target.home_score, target.away_score = "finished", "FT", 7, 7
    target.save()
    return [
        _played(competition, b, a, KICKOFF + timedelta(days=21), 5, 0),  # a later head-to-head meeting
        _played(competition, c, a, KICKOFF + timedelta(hours=2), 3, 0),  # would change A's form and the table
        _played(competition, b, c, KICKOFF, 4, 0),  # at kickoff exactly: not before it
        _played(CompetitionFactory(season=2024), a, TeamFactory(), KICKOFF + timedelta(days=3), 0, 6),
    ]


def test_no_fact_from_kickoff_or_later_reaches_the_analysis(league):
    later = _plant_later_facts(league)
    target = Match.objects.get(pk=league["target"].pk)
    data = build_analysis(target).data
    a, b, c = league["a"].pk, league["b"].pk, league["c"].pk

    assert data["match"] == {
        "id": target.pk,
        "competition": target.competition.name,
        "season": 2024,
        "round": target.round,
        "kickoff_time": "2025-03-01T15:00:00+00:00",
        "home_team": {"id": a, "name": "Alpha"},
        "away_team": {"id": b, "name": "Bravo"},
    }
    assert [(m["date"], m["home_goals"], m["away_goals"]) for m in data["head_to_head"]["meetings"]] == [
        ("2025-01-30T15:00:00+00:00", 1, 0)
    ]
    assert [(f["opponent"]["id"], f["goals_for"], f["goals_against"], f["result"]) for f in data["form"]["home"]] == [
        (c, 2, 0, "W"),
        (b, 0, 1, "L"),
    ]
    assert [(r["team_id"], r["played"], r["points"]) for r in data["table"]["rows"]] == [
        (b, 2, 4),
        (a, 2, 3),
        (c, 2, 1),
    ]
    assert data["rest"]["home"] == {"date": "2025-02-15T15:00:00+00:00", "days": 14}
    assert len(data["history"]) == 3
    ids_in_payload = {entry["match_id"] for entry in data["form"]["home"] + data["form"]["away"]}
    assert ids_in_payload.isdisjoint({m.pk for m in [*later, target]})
    text = json.dumps(data)
    assert '"status' not in text and "score" not in text


def test_build_fails_loudly_when_a_bug_lets_a_later_match_through(league, monkeypatch):
    target = league["target"]
    leaked = MatchFact(
        date=KICKOFF + timedelta(days=1),
        competition_id=target.competition_id,
        league_code="",
        league_external_id=None,
        season=2024,
        competition="x",
        home_id=target.home_team_id,
        home_name="Alpha",
        away_id=target.away_team_id,
        away_name="Bravo",
        home_goals=9,
        away_goals=0,
        source="db",
    )
    monkeypatch.setattr(analysis_module, "_facts_from_db", lambda match, scope, cutoff: [leaked])
    with pytest.raises(LeakError):
        build_analysis(target)


def test_build_fails_loudly_when_composition_adds_a_late_date(league, monkeypatch):
    compose = analysis_module._compose

    def leaky_compose(match, facts, scope, as_of):
        return {**compose(match, facts, scope, as_of), "news": [{"date": match.kickoff_time.isoformat()}]}

    monkeypatch.setattr(analysis_module, "_compose", leaky_compose)
    with pytest.raises(LeakError):
        build_analysis(league["target"])


def test_every_dated_fact_carries_its_date(league):
    data = build_analysis(league["target"]).data
    entries = [
        *data["form"]["home"],
        *data["form"]["away"],
        *data["head_to_head"]["meetings"],
        *data["history"],
        data["table"],
        data["head_to_head"],
        data["rest"]["home"],
        *data["season_record"].values(),
    ]
    assert all(entry["date"] for entry in entries)
    assert data["schema"] == 1 and data["as_of"] == "2025-03-01T15:00:00+00:00"


def test_table_sorts_by_points_then_goal_difference_then_goals_then_name():
    competition = CompetitionFactory()
    teams = {
        name: TeamFactory(name=name) for name in ["Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Lima", "Kilo"]
    }
    day = KICKOFF - timedelta(days=10)
    _played(competition, teams["Delta"], teams["Golf"], day, 1, 0)  # 3 pts, +1, 1 goal
    _played(competition, teams["Echo"], teams["Hotel"], day, 3, 2)  # 3 pts, +1, 3 goals
    _played(competition, teams["Foxtrot"], teams["India"], day, 2, 0)  # 3 pts, +2
    _played(competition, teams["Golf"], teams["Hotel"], day + timedelta(days=1), 0, 0)  # Hotel has more goals
    _played(competition, teams["Lima"], teams["Kilo"], day, 1, 1)  # level on everything: by name
    target = MatchFactory(
        competition=competition, home_team=teams["Delta"], away_team=teams["India"], kickoff_time=KICKOFF
    )
    rows = build_analysis(target).data["table"]["rows"]
    assert [r["team"] for r in rows] == ["Foxtrot", "Echo", "Delta", "Kilo", "Lima", "Hotel", "Golf", "India"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert rows[1] == {
        "rank": 2,
        "team_id": teams["Echo"].pk,
        "team": "Echo",
        "played": 1,
        "won": 1,
        "drawn": 0,
        "lost": 0,
        "goals_for": 3,
        "goals_against": 2,
        "goal_diff": 1,
        "points": 3,
    }


def test_table_lists_both_teams_before_their_first_match():
    target = MatchFactory(kickoff_time=KICKOFF)
    table = build_analysis(target).data["table"]
    assert table["date"] is None and table["matches"] == 0
    assert {r["team_id"] for r in table["rows"]} == {target.home_team_id, target.away_team_id}
    assert all(r["played"] == 0 for r in table["rows"])


def test_form_spans_competitions_and_keeps_the_last_six_newest_first(league):
    a = league["a"]
    cup = CompetitionFactory(name="Cup", season=2024)
    for days in range(1, 6):
        _played(cup, TeamFactory(), a, KICKOFF - timedelta(days=days), 0, 1)
    form = build_analysis(league["target"]).data["form"]["home"]
    assert len(form) == 6
    assert [f["competition"] for f in form[:5]] == ["Cup"] * 5
    assert form[0]["date"] == "2025-02-28T15:00:00+00:00" and form[0]["venue"] == "away"
    assert form[5]["goals_for"] == 2  # the 2-0 league win 14 days before


def test_unfinished_and_voided_matches_are_not_facts(league):
    competition, a, c = league["competition"], league["a"], league["c"]
    MatchFactory(competition=competition, home_team=c, away_team=a, kickoff_time=KICKOFF - timedelta(days=2))
    MatchFactory(
        competition=competition,
        home_team=a,
        away_team=c,
        kickoff_time=KICKOFF - timedelta(days=3),
        status=Match.Status.POSTPONED,
        status_code="PST",
    )
    data = build_analysis(league["target"]).data
    assert data["table"]["matches"] == 3
    assert data["rest"]["home"]["days"] == 14


def test_head_to_head_includes_other_competitions_and_earlier_seasons(league):
    a, b = league["a"], league["b"]
    old = CompetitionFactory(season=2019)
    _played(old, a, b, utc(2019, 9, 1, 15), 3, 1)
    _played(CompetitionFactory(name="Cup", season=2024), b, a, KICKOFF - timedelta(days=60), 2, 2)
    h2h = build_analysis(league["target"]).data["head_to_head"]
    assert [(m["season"], m["home"]["id"], m["home_goals"], m["away_goals"]) for m in h2h["meetings"]] == [
        (2024, b.pk, 1, 0),
        (2024, b.pk, 2, 2),
        (2019, a.pk, 3, 1),
    ]
    assert h2h["summary"] == {"played": 3, "home_team_wins": 1, "draws": 1, "away_team_wins": 1}
    assert h2h["date"] == "2025-01-30T15:00:00+00:00"


def test_season_record_splits_home_and_away(league):
    record = build_analysis(league["target"]).data["season_record"]
    assert record["home"]["home"] == {
        "played": 1,
        "won": 1,
        "drawn": 0,
        "lost": 0,
        "goals_for": 2,
        "goals_against": 0,
        "points": 3,
    }
    assert record["home"]["away"]["lost"] == 1
    assert record["away"]["away"]["drawn"] == 1 and record["away"]["home"]["won"] == 1


def test_history_covers_the_league_across_seasons_for_two_years():
    a, b, c = TeamFactory(), TeamFactory(), TeamFactory()
    this = CompetitionFactory(code="en.1", season=2024, external_id=None)
    last = CompetitionFactory(code="en.1", season=2023, external_id=None)
    ancient = CompetitionFactory(code="en.1", season=2021, external_id=None)
    other_league = CompetitionFactory(code="de.1", season=2024, external_id=None)
    kept = [
        _played(last, b, c, KICKOFF - timedelta(days=400), 2, 1),
        _played(this, a, c, KICKOFF - timedelta(days=5), 0, 0),
    ]
    _played(ancient, a, b, KICKOFF - timedelta(days=731), 1, 1)
    _played(other_league, b, c, KICKOFF - timedelta(days=3), 4, 4)
    target = MatchFactory(competition=this, home_team=a, away_team=b, kickoff_time=KICKOFF)
    history = build_analysis(target).data["history"]
    assert history == [
        {
            "date": m.kickoff_time.isoformat(),
            "home_id": m.home_team_id,
            "away_id": m.away_team_id,
            "home_goals": m.home_score,
            "away_goals": m.away_score,
        }
        for m in kept
    ]


def test_history_of_an_api_league_is_matched_by_external_id():
    a, b = TeamFactory(), TeamFactory()
    this = CompetitionFactory(external_id=39, season=2024)
    last = CompetitionFactory(external_id=39, season=2023)
    _played(last, a, b, KICKOFF - timedelta(days=300), 1, 2)
    _played(CompetitionFactory(external_id=140, season=2024), a, b, KICKOFF - timedelta(days=9), 3, 3)
    target = MatchFactory(competition=this, home_team=a, away_team=b, kickoff_time=KICKOFF)
    assert [h["home_goals"] for h in build_analysis(target).data["history"]] == [1]


def test_build_uses_a_handful_of_queries_however_long_the_history(league, django_assert_max_num_queries):
    competition, a, b, c = league["competition"], league["a"], league["b"], league["c"]
    for day in range(40, 240):
        home, away = [(a, b), (b, c), (c, a)][day % 3]
        _played(competition, home, away, KICKOFF - timedelta(days=day), day % 4, day % 3)
    target = Match.objects.select_related("competition", "home_team", "away_team").get(pk=league["target"].pk)
    with django_assert_max_num_queries(2):
        data = build_analysis(target).data
    assert len(data["history"]) == 203


def test_history_joins_openfootball_and_api_seasons_of_one_league():
    a, b = TeamFactory(), TeamFactory()
    this = CompetitionFactory(code="en.1", external_id=39, season=2024)
    _played(CompetitionFactory(code="", external_id=39, season=2023), a, b, KICKOFF - timedelta(days=300), 2, 0)
    _played(CompetitionFactory(code="en.1", external_id=None, season=2022), a, b, KICKOFF - timedelta(days=700), 0, 2)
    target = MatchFactory(competition=this, home_team=a, away_team=b, kickoff_time=KICKOFF)
    assert [h["home_goals"] for h in build_analysis(target).data["history"]] == [0, 2]


def test_history_holds_the_second_tier_within_two_years_marked_level_1():
    promoted, rival, top = TeamFactory(), TeamFactory(), TeamFactory()
    this = CompetitionFactory(code="en.1", season=2024, external_id=None)
    second = CompetitionFactory(code="en.2", season=2023, external_id=None)
    third = CompetitionFactory(code="en.3", season=2023, external_id=None)
    lower = _played(second, promoted, rival, KICKOFF - timedelta(days=100), 3, 0)
    _played(second, rival, top, KICKOFF - timedelta(days=800), 1, 0)  # outside the window
    _played(third, rival, top, KICKOFF - timedelta(days=50), 2, 2)  # two divisions down: not used
    league = _played(this, top, rival, KICKOFF - timedelta(days=5), 1, 1)
    target = MatchFactory(competition=this, home_team=promoted, away_team=top, kickoff_time=KICKOFF)
    history = build_analysis(target).data["history"]
    assert [(row["home_id"], row.get("level", 0)) for row in history] == [
        (lower.home_team_id, 1),
        (league.home_team_id, 0),
    ]
