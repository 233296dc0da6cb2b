"""A real match: Liverpool v Manchester United, Premier League 2024-25 Matchday 20, 5 Jan 2025 16:30 London.

The expected values below were derived from the vendored rows of
matches/data/openfootball/2024-25/en.1.json (and 2023-24 for the older
meetings) without the code under test: take every row whose result was known
before 2025-01-05 16:30, i.e. kicked off at least 2 h 30 earlier (196 rows,
through the Matchday 20 games of 4 Jan; Fulham 2-2 Ipswich kicked off at
14:00 on the day itself and was still being played 2 h 30 before kickoff),
add up W/D/L and goals per team, sort by points, goal difference, goals for.
A throwaway script over the raw JSON gave the same numbers, and they match
the published table of that morning: Liverpool top on 45 points with a game
in hand (Everton v Liverpool of 7 Dec was postponed by Storm Darragh), Arsenal
40, Nottingham Forest 37, Chelsea 36, Newcastle 35; Manchester United 14th
on 22. London is on GMT in winter, so local times equal UTC; summer times
(BST) are one hour ahead of UTC.
"""

import pytest

from matches.models import Match
from matches.services import build_analysis
from matches.services.openfootball_import import import_season
from tests.factories import utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysis() -> dict:
    import_season("en.1", "2023-24")
    import_season("en.1", "2024-25")
    match = Match.objects.select_related("competition", "home_team", "away_team").get(
        competition__season=2024, home_team__name="Liverpool FC", away_team__name="Manchester United FC"
    )
    assert match.kickoff_time == utc(2025, 1, 5, 16, 30) and match.round == "Matchday 20"
    return build_analysis(match).data


def _row(data: dict, team: str) -> tuple:
    row = next(r for r in data["table"]["rows"] if r["team"] == team)
    return (
        row["rank"],
        row["played"],
        row["won"],
        row["drawn"],
        row["lost"],
        row["goals_for"],
        row["goals_against"],
        row["goal_diff"],
        row["points"],
    )


def test_table_equals_the_morning_of_the_match(analysis):
    table = analysis["table"]
    # The morning's 196 results; Fulham 2-2 Ipswich (14:00 the same day) ended too close to kickoff.
    assert table["matches"] == 196
    assert table["date"] == "2025-01-04T17:30:00+00:00"
    assert len(table["rows"]) == 20
    top = [(r["rank"], r["team"], r["played"], r["points"]) for r in table["rows"][:8]]
    assert top == [
        (1, "Liverpool FC", 18, 45),
        (2, "Arsenal FC", 20, 40),
        (3, "Nottingham Forest FC", 19, 37),
        (4, "Chelsea FC", 20, 36),
        (5, "Newcastle United FC", 20, 35),
        (6, "Manchester City FC", 20, 34),
        (7, "AFC Bournemouth", 20, 33),
        (8, "Aston Villa FC", 20, 32),
    ]
    # rank, played, won, drawn, lost, goals for, goals against, goal difference, points
    assert _row(analysis, "Liverpool FC") == (1, 18, 14, 3, 1, 45, 17, 28, 45)
    assert _row(analysis, "Manchester United FC") == (14, 19, 6, 4, 9, 21, 26, -5, 22)
    assert _row(analysis, "Southampton FC") == (20, 20, 1, 3, 16, 12, 44, -32, 6)
    # Before their 14:00 draw of the same day: Fulham 29 points from 19 games, Ipswich 15.
    assert _row(analysis, "Fulham FC") == (9, 19, 7, 8, 4, 28, 25, 3, 29)
    assert _row(analysis, "Ipswich Town FC") == (18, 19, 3, 6, 10, 18, 33, -15, 15)


def test_form_of_both_teams_equals_the_morning_of_the_match(analysis):
    def form(side: str) -> list[tuple]:
        return [
            (f["date"], f["venue"], f["opponent"]["name"], f["goals_for"], f["goals_against"], f["result"])
            for f in analysis["form"][side]
        ]

    assert form("home") == [
        ("2024-12-29T17:15:00+00:00", "away", "West Ham United FC", 5, 0, "W"),
        ("2024-12-26T20:00:00+00:00", "home", "Leicester City FC", 3, 1, "W"),
        ("2024-12-22T16:30:00+00:00", "away", "Tottenham Hotspur FC", 6, 3, "W"),
        ("2024-12-14T15:00:00+00:00", "home", "Fulham FC", 2, 2, "D"),
        ("2024-12-04T19:30:00+00:00", "away", "Newcastle United FC", 3, 3, "D"),
        ("2024-12-01T16:00:00+00:00", "home", "Manchester City FC", 2, 0, "W"),
    ]
    assert form("away") == [
        ("2024-12-30T20:00:00+00:00", "home", "Newcastle United FC", 0, 2, "L"),
        ("2024-12-26T17:30:00+00:00", "away", "Wolverhampton Wanderers FC", 0, 2, "L"),
        ("2024-12-22T14:00:00+00:00", "home", "AFC Bournemouth", 0, 3, "L"),
        ("2024-12-15T16:30:00+00:00", "away", "Manchester City FC", 2, 1, "W"),
        ("2024-12-07T17:30:00+00:00", "home", "Nottingham Forest FC", 2, 3, "L"),
        ("2024-12-04T20:15:00+00:00", "away", "Arsenal FC", 0, 2, "L"),
    ]


def test_head_to_head_rest_and_season_record_as_of_kickoff(analysis):
    meetings = [
        (m["date"], m["home"]["name"], m["home_goals"], m["away_goals"]) for m in analysis["head_to_head"]["meetings"]
    ]
    # The 2-2 of this very match is absent; 1 Sep 2024 16:00 and 7 Apr 2024 15:30 are BST.
    assert meetings == [
        ("2024-09-01T15:00:00+00:00", "Manchester United FC", 0, 3),
        ("2024-04-07T14:30:00+00:00", "Manchester United FC", 2, 2),
        ("2023-12-17T16:30:00+00:00", "Liverpool FC", 0, 0),
    ]
    assert analysis["rest"]["home"] == {"date": "2024-12-29T17:15:00+00:00", "days": 6}
    assert analysis["rest"]["away"] == {"date": "2024-12-30T20:00:00+00:00", "days": 5}
    record = analysis["season_record"]
    assert (record["home"]["home"]["played"], record["home"]["home"]["points"]) == (9, 22)  # 7W 1D 1L, 18-6
    assert (record["away"]["away"]["played"], record["away"]["away"]["points"]) == (9, 9)  # 2W 3D 4L, 8-10
    # 2023-24 (380) and 2024-25 before kickoff (197) are all within two years.
    assert len(analysis["history"]) == 380 + 196
