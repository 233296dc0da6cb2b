"""sync_fixtures (and sync_and_settle, which re-settles) against the fake API-Football over real HTTP, on real
PostgreSQL."""

import json
import socket
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from matches.models import Competition, Match, Team
from matches.services.fixture_sync import sync_fixtures
from predictions.models import Prediction
from predictions.services import settle_match, sync_and_settle
from tests.factories import PredictionFactory, PredictionModelFactory
from tests.fakes.fake_api_football import FakeApiFootball, Fault, demo_dataset, make_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings, redis_conn):
    with FakeApiFootball(fixtures=demo_dataset()) as server:
        settings.API_FOOTBALL_BASE_URL = server.base_url
        settings.API_FOOTBALL_KEY = server.api_key
        settings.API_FOOTBALL_BACKOFF_BASE = 0.01
        settings.API_FOOTBALL_BACKOFF_CAP = 0.05
        yield server


def run(*args: str) -> str:
    out = StringIO()
    call_command("sync_fixtures", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Match.objects.order_by("external_id").values_list(
            "external_id", "status", "status_code", "home_score", "away_score", "kickoff_time", "updated_at"
        )
    )


def test_first_run_creates_competition_teams_and_matches(fake):
    output = run("--league", "39", "--season", "2024")

    assert "12 created, 0 updated, 0 unchanged" in output
    competition = Competition.objects.get(external_id=39, season=2024)
    assert (competition.name, competition.country) == ("Premier League", "England")
    assert Team.objects.count() == 4
    finished = Match.objects.get(external_id=1_100_001)
    assert (finished.status, finished.status_code) == ("finished", "FT")
    assert (finished.home_score, finished.away_score) == (3, 0)
    assert finished.kickoff_time == datetime(2024, 8, 17, 16, 0, tzinfo=UTC)
    upcoming = Match.objects.get(external_id=1_100_011)
    assert (upcoming.status, upcoming.status_code, upcoming.home_score) == ("scheduled", "NS", None)


def test_a_second_run_changes_nothing_and_says_so(fake):
    run("--league", "39", "--season", "2024")
    before = snapshot()

    output = run("--league", "39", "--season", "2024")

    assert "0 created, 0 updated, 12 unchanged" in output
    assert "Nothing changed." in output
    assert snapshot() == before
    assert Team.objects.count() == 4 and Competition.objects.count() == 1


def test_a_changed_fixture_is_updated_and_counted(fake):
    run("--league", "39", "--season", "2024")
    postponed = fake.fixture(1_100_011)
    postponed["fixture"]["status"] = {"long": "Match Postponed", "short": "PST", "elapsed": None, "extra": None}
    fake.upsert_fixture(postponed)

    output = run("--league", "39", "--season", "2024")

    assert "0 created, 1 updated, 11 unchanged" in output
    match = Match.objects.get(external_id=1_100_011)
    assert (match.status, match.status_code) == ("postponed", "PST")


def test_an_empty_team_name_from_the_api_never_renames_a_known_team(fake):
    run("--league", "39", "--season", "2024")
    fixture = fake.fixture(1_100_011)
    home_id = fixture["teams"]["home"]["id"]
    known_name = Team.objects.get(external_id=home_id).name
    fixture["teams"]["home"]["name"] = ""
    fake.upsert_fixture(fixture)

    run("--league", "39", "--season", "2024")

    assert Team.objects.get(external_id=home_id).name == known_name


def test_periods_are_stored_and_the_result_that_counts_follows_the_rule(fake):
    home, away = (50, "Cup Home"), (51, "Cup Away")
    kickoff = datetime(2024, 9, 1, 18, 0, tzinfo=UTC)
    fake.upsert_fixture(
        make_fixture(
            2_000_000,
            kickoff=kickoff,
            home=home,
            away=away,
            status="PEN",
            goals=(3, 3),
            fulltime=(2, 2),
            extratime=(1, 1),
            penalty=(4, 2),
        )
    )

    run("--league", "39", "--season", "2024")

    cup = Match.objects.get(external_id=2_000_000)
    # The periods are stored as reported: goals is the score after extra time, never the shoot-out.
    assert (cup.score_90_home, cup.score_90_away, cup.score_et_home, cup.score_et_away) == (2, 2, 3, 3)
    assert (cup.score_pen_home, cup.score_pen_away) == (4, 2)
    # The result that counts follows the competition's rule (after 90 minutes by default).
    assert (cup.status, cup.status_code, cup.home_score, cup.away_score) == ("finished", "PEN", 2, 2)
    Competition.objects.filter(pk=cup.competition_id).update(result_rule="after_extra_time")
    fake.upsert_fixture(make_fixture(2_000_000, kickoff=kickoff, home=home, away=away, status="PEN",
                                     goals=(3, 3), fulltime=(2, 2), extratime=(1, 1), penalty=(4, 2), referee="x"))
    run("--league", "39", "--season", "2024")
    cup.refresh_from_db()
    assert (cup.home_score, cup.away_score) == (3, 3)


def test_a_corrected_score_re_settles_a_settled_match(fake):
    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)  # 3-0
    exact = PredictionFactory(match=match, model=PredictionModelFactory(), predicted_home=3, predicted_away=0)
    PredictionFactory(match=match, model=PredictionModelFactory(), predicted_home=0, predicted_away=0)
    settle_match(match.pk)
    exact.refresh_from_db()
    points_before = exact.total_points
    assert exact.exact_score_bonus > 0
    corrected = fake.fixture(1_100_001)
    corrected["goals"] = {"home": 3, "away": 2}
    corrected["score"]["fulltime"] = {"home": 3, "away": 2}
    fake.upsert_fixture(corrected)

    result = sync_and_settle(league=39, season=2024)

    assert result.resettled == [match.pk]
    exact.refresh_from_db()
    assert exact.status == Prediction.Status.SCORED
    assert exact.exact_score_bonus == 0 and exact.total_points < points_before
    match.refresh_from_db()
    assert (match.home_score, match.away_score) == (3, 2)


def test_an_unsettled_match_with_a_new_score_is_left_to_the_pipeline(fake):
    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)
    prediction = PredictionFactory(match=match, model=PredictionModelFactory())
    corrected = fake.fixture(1_100_001)
    corrected["goals"] = {"home": 0, "away": 0}
    fake.upsert_fixture(corrected)

    result = sync_and_settle(league=39, season=2024)

    assert result.resettled == []
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.PENDING


def test_a_date_window_is_passed_through_and_limits_the_sync(fake):
    output = run("--league", "39", "--season", "2024", "--from", "2024-08-17", "--to", "2024-08-24")

    assert "4 created" in output
    assert fake.requests[-1].params == {"league": "39", "season": "2024", "from": "2024-08-17", "to": "2024-08-24"}


def test_json_output_reports_the_counts(fake):
    run("--league", "39", "--season", "2024")
    out = StringIO()

    call_command("sync_fixtures", "--league", "39", "--season", "2024", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert (report["unchanged"], report["created"], report["changed"]) == (12, 0, False)


def test_queries_do_not_grow_with_the_number_of_fixtures(fake, django_assert_max_num_queries):
    start = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)
    teams = [(100 + n, f"Club {n}") for n in range(20)]
    fake.set_fixtures(
        make_fixture(3_000_000 + n, kickoff=start + timedelta(hours=n), home=teams[n % 20], away=teams[(n + 1) % 20])
        for n in range(200)
    )

    with django_assert_max_num_queries(15):
        result = sync_fixtures(league=39, season=2024)
    assert result.created == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--league", "39", "--season", "24"], "4-digit"),
        (["--league", "39", "--season", "twenty"], "4-digit"),
        (["--league", "x", "--season", "2024"], "league id"),
        (["--league", "\u00b2", "--season", "2024"], "league id"),  # "²": isdigit() but not a number
        (["--league", "39", "--season", "\u00b2\u00b2\u00b2\u00b2"], "4-digit"),
        (["--league", "39", "--season", "2024", "--from", "2024-13-01", "--to", "2024-12-31"], "not a date"),
        (["--league", "39", "--season", "2024", "--from", "2024-09-01", "--to", "2024-08-01"], "after"),
        (["--league", "39", "--season", "2024", "--from", "2024-09-01"], "go together"),
    ],
)
def test_bad_arguments_are_refused_before_anything_happens(fake, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)

    assert fake.request_count() == 0
    assert not Match.objects.exists()


def test_a_missing_api_key_is_refused_with_a_clear_message(fake, settings):
    settings.API_FOOTBALL_KEY = ""

    with pytest.raises(CommandError, match="API_FOOTBALL_KEY is not set"):
        run("--league", "39", "--season", "2024")
    assert fake.request_count() == 0


def test_an_api_error_fails_the_command_and_changes_nothing(fake):
    fake.inject("fixtures", Fault.plan_season())

    with pytest.raises(CommandError, match="PlanError"):
        run("--league", "39", "--season", "2024")
    assert not Match.objects.exists() and not Team.objects.exists()


def test_an_unreachable_redis_budget_fails_the_command_clearly_and_sends_nothing(fake, settings):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        settings.REDIS_URL = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"

    with pytest.raises(CommandError, match=r"BudgetUnavailable.*in Redis \(REDIS_URL\) is unreachable"):
        run("--league", "39", "--season", "2024")
    assert fake.request_count() == 0
    assert not Match.objects.exists()


def test_the_command_exits_non_zero_on_failure(fake):
    fake.inject("fixtures", Fault.plan_season())

    with pytest.raises(SystemExit) as caught:
        call_command_from_argv(["manage.py", "sync_fixtures", "--league", "39", "--season", "2024"])
    assert caught.value.code != 0


def call_command_from_argv(argv: list[str]) -> None:
    from django.core.management import ManagementUtility

    ManagementUtility(argv).execute()


def test_an_abandoned_settled_match_is_re_settled_as_void(fake):
    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)
    prediction = PredictionFactory(match=match, model=PredictionModelFactory(), predicted_home=3, predicted_away=0)
    settle_match(match.pk)
    abandoned = fake.fixture(1_100_001)
    abandoned["fixture"]["status"] = {"long": "Match Abandoned", "short": "ABD", "elapsed": 70, "extra": None}
    fake.upsert_fixture(abandoned)

    result = sync_and_settle(league=39, season=2024)

    assert result.resettled == [match.pk]
    prediction.refresh_from_db()
    assert (prediction.status, prediction.total_points) == (Prediction.Status.VOID, 0)


def test_an_unreadable_fixture_is_skipped_and_the_command_fails_after_syncing_the_rest(fake):
    odd = fake.fixture(1_100_011)
    odd["fixture"]["status"]["short"] = "XYZ"
    fake.upsert_fixture(odd)
    err = StringIO()

    with pytest.raises(CommandError, match="could not be synced"):
        call_command("sync_fixtures", "--league", "39", "--season", "2024", stdout=StringIO(), stderr=err)

    assert "XYZ" in err.getvalue()
    assert Match.objects.count() == 11


def test_a_newly_postponed_match_that_was_never_settled_has_its_predictions_voided(fake):
    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)
    prediction = PredictionFactory(match=match, model=PredictionModelFactory())
    postponed = fake.fixture(1_100_001)
    postponed["fixture"]["status"] = {"long": "Match Postponed", "short": "PST", "elapsed": None, "extra": None}
    postponed["goals"] = {"home": None, "away": None}
    fake.upsert_fixture(postponed)

    result = sync_and_settle(league=39, season=2024)

    assert result.resettled == [match.pk]
    prediction.refresh_from_db()
    assert (prediction.status, prediction.total_points) == (Prediction.Status.VOID, 0)


@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_a_new_season_at_once_create_everything_once(fake):
    """Both find no competition and no match; the competition's row lock makes the second wait,
    then it sees the first's matches and updates nothing, instead of failing on the unique ids."""
    from tests.concurrency import run_at_once

    results = run_at_once(lambda: sync_fixtures(league=39, season=2024), times=2)

    assert sorted(r.created for r in results) == [0, 12]
    assert sorted(r.unchanged for r in results) == [0, 12]
    assert Match.objects.count() == 12 and Competition.objects.count() == 1


def test_the_sync_alone_reports_changed_results_and_settles_nothing(fake):
    """matches never imports predictions: re-settling is the caller's job, one layer up."""
    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)  # 3-0
    exact = PredictionFactory(match=match, model=PredictionModelFactory(), predicted_home=3, predicted_away=0)
    settle_match(match.pk)
    exact.refresh_from_db()
    points_before = exact.total_points
    corrected = fake.fixture(1_100_001)
    corrected["goals"] = {"home": 3, "away": 2}
    corrected["score"]["fulltime"] = {"home": 3, "away": 2}
    fake.upsert_fixture(corrected)

    result = sync_fixtures(league=39, season=2024)

    assert (result.result_changed, result.resettled) == ([match.pk], [])
    exact.refresh_from_db()
    assert exact.total_points == points_before


def test_points_never_disagree_with_the_stored_result_when_re_settling_fails(fake):
    """A re-settlement that fails rolls the new score back with it: the old score and its points stay."""
    from django.db import connection

    run("--league", "39", "--season", "2024")
    match = Match.objects.get(external_id=1_100_001)  # 3-0
    exact = PredictionFactory(match=match, model=PredictionModelFactory(), predicted_home=3, predicted_away=0)
    settle_match(match.pk)
    exact.refresh_from_db()
    points_before = exact.total_points
    corrected = fake.fixture(1_100_001)
    corrected["goals"] = {"home": 3, "away": 2}
    corrected["score"]["fulltime"] = {"home": 3, "away": 2}
    fake.upsert_fixture(corrected)
    with connection.cursor() as cursor:  # the database itself refuses to re-score the prediction
        cursor.execute(
            "CREATE FUNCTION refuse_rescore() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
            "LANGUAGE plpgsql; CREATE TRIGGER refuse_rescore BEFORE UPDATE ON predictions_prediction "
            "FOR EACH ROW EXECUTE FUNCTION refuse_rescore()"
        )

    with pytest.raises(Exception, match="refused"):
        sync_and_settle(league=39, season=2024)

    match.refresh_from_db()
    exact.refresh_from_db()
    assert (match.home_score, match.away_score) == (3, 0)
    assert exact.total_points == points_before and exact.exact_score_bonus > 0
