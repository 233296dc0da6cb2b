"""import_season and load_openfootball: real seasons in bulk, idempotent, no network."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from matches.models import Competition, Match, Team
from matches.services.openfootball_import import import_season
from tests.factories import TeamFactory, utc

pytestmark = pytest.mark.django_db


def test_import_loads_a_whole_season_in_a_few_queries(django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        result = import_season("en.1", "2024-25")
    competition = Competition.objects.get()
    assert (competition.code, competition.season, competition.external_id) == ("en.1", 2024, None)
    assert (competition.name, competition.country) == ("English Premier League", "England")
    assert result.competition_created and result.teams_created == 20 and result.matches_created == 380
    assert Match.objects.filter(status="finished", status_code="FT", external_id__isnull=True).count() == 380
    opener = Match.objects.order_by("kickoff_time").select_related("home_team", "away_team").first()
    # Matchday 1: Manchester United FC 1-0 Fulham FC, 2024-08-16 20:00 London (BST) = 19:00 UTC.
    assert (opener.home_team.name, opener.away_team.name, opener.home_score, opener.away_score) == (
        "Manchester United FC",
        "Fulham FC",
        1,
        0,
    )
    assert opener.kickoff_time == utc(2024, 8, 16, 19) and opener.round == "Matchday 1"


def test_second_import_creates_nothing():
    import_season("en.1", "2024-25")
    before = set(Match.objects.values_list("pk", "kickoff_time", "home_score"))
    again = import_season("en.1", "2024-25")
    assert not again.changed and again.matches_existing == 380 and again.created == []
    assert set(Match.objects.values_list("pk", "kickoff_time", "home_score")) == before
    assert Team.objects.count() == 20 and Competition.objects.count() == 1


def test_teams_are_shared_across_seasons_and_existing_names_are_reused():
    arsenal = TeamFactory(name="Arsenal FC", external_id=42)
    import_season("en.1", "2023-24")
    result = import_season("en.1", "2024-25")
    # 2024-25 promoted Leicester, Ipswich and Southampton; everyone else already existed.
    assert result.teams_created == 3
    assert Match.objects.filter(home_team=arsenal).count() == 38
    assert Team.objects.filter(name="Arsenal FC").count() == 1


def test_unplayed_matches_are_scheduled_without_a_score():
    result = import_season("es.1", "2024-25")
    unplayed = Match.objects.filter(competition=result.competition, home_score__isnull=True)
    assert unplayed.count() == 10
    assert set(unplayed.values_list("status", "status_code")) == {("scheduled", "NS")}


def test_shift_and_external_ids_let_the_demo_reuse_a_season():
    ids = iter(range(7_000_000, 8_000_000))
    result = import_season("de.1", "2024-25", shift=timedelta(days=365), external_id=lambda row: next(ids))
    first = min(result.created, key=lambda m: m.kickoff_time)
    # Bundesliga 2024-25 opened on 2024-08-23 20:30 Berlin (CEST) = 18:30 UTC; shifted by a year.
    assert first.kickoff_time == utc(2025, 8, 23, 18, 30)
    assert Match.objects.filter(external_id__gte=7_000_000).count() == 306


def test_unknown_league_or_season_is_a_value_error():
    with pytest.raises(ValueError, match="unknown league"):
        import_season("xx.9", "2024-25")
    with pytest.raises(ValueError, match="no vendored data"):
        import_season("en.1", "2019-20")
    with pytest.raises(ValueError, match="must look like 2024-25"):
        import_season("en.1", "\u00b2\u00b2\u00b2\u00b2-25")  # isdigit() but not a year


def test_command_loads_then_reports_nothing_to_do(capsys):
    call_command("load_openfootball", "--league", "en.1", "--season", "2024/25")
    assert "380 matches created" in capsys.readouterr().out
    call_command("load_openfootball", "--league", "en.1", "--season", "2024")
    assert "already loaded, nothing changed" in capsys.readouterr().out


def test_command_all_narrowed_to_a_league_emits_json(capsys):
    call_command("load_openfootball", "--all", "--league", "fr.1", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [(r["code"], r["season"], r["matches_created"]) for r in rows] == [
        ("fr.1", "2022-23", 380),
        ("fr.1", "2023-24", 306),
        ("fr.1", "2024-25", 306),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --league and --season"),
        (["--league", "en.1"], "give --league and --season"),
        (["--league", "en.9", "--season", "2024-25"], "unknown league"),
        (["--league", "en.1", "--season", "last year"], "season must look like"),
        (["--league", "en.1", "--season", "2019-20"], "no vendored data for season 2019-20"),
    ],
)
def test_command_rejects_bad_input_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("load_openfootball", *args)
    assert not Match.objects.exists()
