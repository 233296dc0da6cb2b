"""The result that counts: one rule from period scores, used by parsing, import, sync and settlement."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from matches.models import Competition, Match, ResultRule
from matches.openfootball import load_season
from matches.results import PeriodScores, counting_score
from matches.services.openfootball_import import import_season
from predictions.models import Prediction
from predictions.services import settle_match
from tests.factories import PredictionFactory
from tests.fakes.fake_api_football import FakeApiFootball, make_fixture

# Euro 2024 quarter-final, Stuttgart, 5 July 2024: Spain 1-1 Germany after 90 (Olmo 51', Wirtz 89'),
# Merino 119' made it 2-1 after extra time. API-Football: status AET, goals 2-1, fulltime 1-1.
SPAIN_GERMANY = make_fixture(
    1_145_509,
    kickoff=datetime(2024, 7, 5, 16, 0, tzinfo=UTC),
    home=(9, "Spain"),
    away=(25, "Germany"),
    status="AET",
    goals=(2, 1),
    halftime=(0, 0),
    fulltime=(1, 1),
    extratime=(1, 0),
    league_id=4,
    league_name="Euro Championship",
    country="World",
    season=2024,
    round="Quarter-finals",
)
# World Cup 2022 final: 2-2 after 90, 3-3 after extra time, Argentina won the shoot-out 4-2.
ARGENTINA_FRANCE = make_fixture(
    979_139,
    kickoff=datetime(2022, 12, 18, 15, 0, tzinfo=UTC),
    home=(26, "Argentina"),
    away=(2, "France"),
    status="PEN",
    goals=(3, 3),
    halftime=(2, 0),
    fulltime=(2, 2),
    extratime=(1, 1),
    penalty=(4, 2),
    league_id=1,
    league_name="World Cup",
    country="World",
    season=2022,
    round="Final",
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("after_90", (1, 1)), ("after_extra_time", (2, 1)), ("with_shootout", (6, 4))],
)
def test_counting_score_follows_the_rule(rule, expected):
    periods = PeriodScores(after_90=(1, 1), after_extra_time=(2, 1), shootout=(4, 3))
    assert counting_score(rule, periods) == expected


def test_a_match_decided_in_90_minutes_counts_the_same_under_every_rule():
    periods = PeriodScores(after_90=(3, 0))
    assert {counting_score(rule, periods) for rule in ResultRule.values} == {(3, 0)}


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown result rule"):
        counting_score("golden_goal", PeriodScores(after_90=(1, 0)))


@pytest.fixture
def knockouts(settings, redis_conn):
    with FakeApiFootball(fixtures=[SPAIN_GERMANY, ARGENTINA_FRANCE]) as server:
        settings.API_FOOTBALL_BASE_URL = server.base_url
        settings.API_FOOTBALL_KEY = server.api_key
        yield server


def _sync(league: str, season: str) -> None:
    call_command("sync_fixtures", "--league", league, "--season", season, stdout=StringIO(), stderr=StringIO())


def _settle_under(match: Match, rule: str) -> dict[tuple[int, int], int]:
    Competition.objects.filter(pk=match.competition_id).update(result_rule=rule)
    settle_match(match.pk)
    match.refresh_from_db()
    return {(p.predicted_home, p.predicted_away): p.total_points for p in Prediction.objects.filter(match=match)}


@pytest.mark.django_db
def test_real_extra_time_knockout_settles_as_each_rule_says(knockouts):
    _sync("4", "2024")
    match = Match.objects.get(external_id=1_145_509)
    assert (match.score_90_home, match.score_90_away, match.score_et_home, match.score_et_away) == (1, 1, 2, 1)
    assert (match.score_pen_home, match.score_pen_away) == (None, None)
    assert match.competition.result_rule == "after_90" and (match.home_score, match.away_score) == (1, 1)
    for tip in [(1, 1), (2, 1), (0, 0), (1, 2)]:
        PredictionFactory(match=match, predicted_home=tip[0], predicted_away=tip[1])

    points = _settle_under(match, "after_90")
    assert (match.home_score, match.away_score) == (1, 1)
    assert points[(1, 1)] > points[(0, 0)] > 0 and points[(2, 1)] == 0
    for rule in ("after_extra_time", "with_shootout"):
        points = _settle_under(match, rule)
        assert (match.home_score, match.away_score) == (2, 1), rule
        assert points[(2, 1)] > 0 and points[(1, 1)] == points[(0, 0)] == points[(1, 2)] == 0


@pytest.mark.django_db
def test_a_shootout_counts_only_under_with_shootout(knockouts):
    _sync("1", "2022")
    match = Match.objects.get(external_id=979_139)
    assert (match.score_pen_home, match.score_pen_away) == (4, 2)
    PredictionFactory(match=match, predicted_home=2, predicted_away=2)
    PredictionFactory(match=match, predicted_home=3, predicted_away=3)
    PredictionFactory(match=match, predicted_home=1, predicted_away=0)
    assert _settle_under(match, "after_90")[(2, 2)] > _settle_under(match, "after_90")[(3, 3)] > 0
    assert (match.home_score, match.away_score) == (2, 2)
    points = _settle_under(match, "after_extra_time")
    assert (match.home_score, match.away_score) == (3, 3) and points[(3, 3)] > points[(2, 2)] > 0
    points = _settle_under(match, "with_shootout")
    assert (match.home_score, match.away_score) == (7, 5) and points[(1, 0)] > 0 and points[(3, 3)] == 0


@pytest.mark.django_db
def test_champions_league_import_keeps_periods_and_counts_extra_time():
    result = import_season("uefa.cl", "2024-25")
    assert result.competition.result_rule == "after_extra_time"
    # Liverpool 0-1 PSG at Anfield, 11 March 2025: 0-1 after 90 and after extra time, then a shoot-out
    # whose published figures (4-4) cannot be right, so it is kept as unknown rather than guessed at.
    match = Match.objects.get(
        competition=result.competition,
        home_team__name="Liverpool FC (ENG)",
        away_team__name="Paris Saint-Germain FC (FRA)",
    )
    assert (match.score_90_home, match.score_90_away, match.score_et_home, match.score_et_away) == (0, 1, 0, 1)
    assert match.score_pen_home is None and (match.home_score, match.away_score) == (0, 1)
    assert match.status_code == "AET"
    final = Match.objects.get(competition=result.competition, round="Finals, Final")
    assert final.status == "scheduled" and final.home_score is None  # upstream has no score: never invented
    league_phase = Match.objects.filter(competition=result.competition, round__startswith="League").first()
    assert league_phase.score_90_home == league_phase.home_score and league_phase.score_et_home is None


def test_vendored_seasons_have_no_extra_time_in_the_leagues():
    for match in load_season("en.1", "2024-25").matches:
        assert match.periods.after_extra_time is None
