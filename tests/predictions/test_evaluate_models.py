"""evaluate_models: walk-forward without leaks, the scoring it reports, and its input errors."""

import json
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from matches.openfootball import LEAGUES, SEASONS, load_season, seasons_of
from matches.services.analysis import HISTORY_DAYS
from matches.services.leak_guard import RESULT_KNOWN_AFTER
from predictions.providers.base import MatchContext, Tip
from predictions.services.evaluation import Contender, evaluate, kicktipp_points


class SpyPredictor:
    """Records what each prediction was given, and checks it was all before kickoff."""

    def __init__(self) -> None:
        self.seen: list[tuple[datetime, int, datetime | None]] = []

    def predict(self, context: MatchContext) -> Tip:
        history = context.analysis["history"]
        latest = max((datetime.fromisoformat(row["date"]) for row in history), default=None)
        self.seen.append((context.kickoff_time, len(history), latest))
        return Tip(2, 1)


def test_walk_forward_never_passes_a_match_at_or_after_kickoff():
    spy = SpyPredictor()
    evaluate(league="en.1", season="2024-25", limit=40, lineup=[Contender("spy", "spy")],
             predictor_factory=lambda contender: spy)
    assert len(spy.seen) == 40
    # A result is known only once its match is over, RESULT_KNOWN_AFTER after its kickoff.
    assert all(latest is not None and latest + RESULT_KNOWN_AFTER < kickoff for kickoff, _, latest in spy.seen)
    every = [m for s in SEASONS for m in load_season("en.1", s).matches if m.home_goals is not None]
    # the second tier's earlier seasons too: they rate the promoted teams
    every += [m for s in ("2022-23", "2023-24") for m in load_season("en.2", s).matches if m.home_goals is not None]
    season = [m for m in load_season("en.1", "2024-25").matches if m.home_goals is not None][:40]
    for (kickoff, size, _), match in zip(spy.seen, season, strict=True):
        assert kickoff == match.kickoff_time
        # every earlier league match inside the analysis window, this season's included, and nothing else
        window_start = kickoff - timedelta(days=HISTORY_DAYS)
        assert size == sum(window_start <= m.kickoff_time < kickoff - RESULT_KNOWN_AFTER for m in every)


@pytest.mark.parametrize(
    ("tip", "result", "points"),
    [((2, 1), (2, 1), 4), ((2, 1), (3, 2), 3), ((2, 1), (3, 0), 2), ((1, 1), (0, 0), 2), ((2, 1), (1, 1), 0),
     ((0, 2), (1, 3), 3)],
)
def test_plain_kicktipp_points_follow_the_2_3_4_rules(tip, result, points):
    assert kicktipp_points(tip, result) == points


def test_fixed_baseline_scores_as_settlement_would():
    report = evaluate(league="en.1", season="2024-25", limit=10, lineup=[Contender("two-one", "fixed_score")])
    (score,) = report.scores
    season = [m for m in load_season("en.1", "2024-25").matches if m.home_goals is not None][:10]
    # alone in the field, every tip shares one tendency, so a home win is worth the minimum quota of 2
    expected = sum(
        (2 + (m.home_goals - m.away_goals == 1) + 3 * ((m.home_goals, m.away_goals) == (2, 1)))
        if m.home_goals > m.away_goals else 0
        for m in season
    )
    assert score.quota_points == expected
    assert score.kicktipp_points == sum(kicktipp_points((2, 1), (m.home_goals, m.away_goals)) for m in season)


def test_command_prints_a_row_per_model_for_a_small_slice(capsys):
    call_command("evaluate_models", "--league", "en.1", "--season", "2024-25", "--limit", "12")
    out = capsys.readouterr().out
    assert "en.1 2024-25: 12 matches" in out
    for slug in ("always-2-1", "most-frequent", "dixon-coles", "elo"):
        assert f"\n{slug} " in out


def test_command_json_reports_the_metrics(capsys):
    call_command("evaluate_models", "--season", "2024/25", "--limit", "5", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["season"] == "2024-25" and report["matches"] == 5
    model = next(m for m in report["models"] if m["slug"] == "dixon-coles")
    assert model["matches"] == 5 and model["failed"] == 0
    assert set(model) >= {"tendency_accuracy", "exact_hits", "quota_points_per_match", "kicktipp_points_per_match"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--league", "xx.9"], "unknown league 'xx.9'"),
        (["--season", "1999-00"], "no vendored data for en.1 1999-00"),
        (["--season", "last"], "season must look like 2024-25"),
        (["--limit", "0"], "limit must be a positive number"),
    ],
)
def test_command_rejects_bad_input_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_models", *args)


def test_variants_outside_the_field_do_not_move_its_quotas():
    alone = evaluate(league="en.1", season="2024-25", limit=10, lineup=[Contender("two-one", "fixed_score")])
    shadow = Contender("away", "fixed_score", {"home": 0, "away": 1}, in_field=False)
    both = evaluate(
        league="en.1", season="2024-25", limit=10, lineup=[Contender("two-one", "fixed_score"), shadow]
    )
    assert both.scores[0].quota_points == alone.scores[0].quota_points
    assert both.scores[1].in_field is False


def test_command_variants_flag_adds_the_marked_variants(capsys):
    call_command("evaluate_models", "--limit", "3", "--variants")
    out = capsys.readouterr().out
    assert "dixon-coles-typical *" in out and "elo-likeliest *" in out
    assert "without joining the field" in out


def test_unscored_matches_are_counted_and_the_warm_up_says_what_is_used(capsys):
    # es.1 2024-25 has no score upstream for its 10 round-38 matches.
    report = evaluate(league="es.1", season="2024-25", limit=3, lineup=[Contender("two-one", "fixed_score")])
    assert report.unscored == 10 and report.as_dict()["unscored_matches"] == 10
    assert report.warm_up.startswith(f"the {HISTORY_DAYS} days before each match")
    assert "2022-23, 2023-24" in report.warm_up
    call_command("evaluate_models", "--league", "es.1", "--season", "2024-25", "--limit", "2")
    out = capsys.readouterr().out
    assert f"warm-up: the {HISTORY_DAYS} days before each match" in out
    assert "unscored: 10 match(es)" in out


def test_leagues_and_seasons_come_from_the_data_folder():
    assert {"en.1", "en.2", "es.2", "uefa.cl"} <= set(LEAGUES)
    assert SEASONS == ("2022-23", "2023-24", "2024-25")
    assert seasons_of("es.2") == ("2024-25",)
    first = evaluate(league="en.1", season="2022-23", limit=2, lineup=[Contender("two-one", "fixed_score")])
    assert first.warm_up_seasons == [] and first.warm_up.startswith("none")


def test_field_shares_handed_to_the_models_come_only_from_matches_settled_before_kickoff():
    seen = []

    class Spy:
        def predict(self, context):
            seen.append((context.kickoff_time, context.analysis["_field_shares"]))
            return Tip(2, 1)

    evaluate(league="en.1", season="2024-25", limit=12, lineup=[Contender("spy", "spy")],
             predictor_factory=lambda contender: Spy())
    kickoffs = [k for k, _ in seen]
    for kickoff, shares in seen:
        settled = sum(k + RESULT_KNOWN_AFTER < kickoff for k in kickoffs)
        assert shares == [settled, 0, 0]


def test_the_warm_up_names_a_second_tier_only_with_the_seasons_of_it_that_are_used():
    # fr.2 is vendored for 2024-25 only: nothing of it is earlier than fr.1 2024-25, so none is used.
    french = evaluate(league="fr.1", season="2024-25", limit=2, lineup=[Contender("two-one", "fixed_score")])
    assert "fr.2" not in french.warm_up and french.as_dict()["lower_tier"] == ""
    english = evaluate(league="en.1", season="2024-25", limit=2, lineup=[Contender("two-one", "fixed_score")])
    assert english.warm_up.endswith("; en.2 results from 2022-23, 2023-24")
    assert english.as_dict()["lower_tier_seasons"] == ["2022-23", "2023-24"]
