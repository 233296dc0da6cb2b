"""Restart after an outage, the embedded default (in-process jobs), and analysis lineage across a backfill."""

import json
from datetime import timedelta

import pytest

from backfill import service as backfill
from backfill.selectors import find_gaps
from matches.models import Match, MatchAnalysis
from pipeline.service import tick
from predictions.models import Prediction
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionModelFactory
from tests.fakes.fake_api_football import make_fixture
from tests.pipeline.conftest import AWAY, HOME, LEAGUE, OTHER_AWAY, OTHER_HOME, SEASON

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_process(settings):
    settings.REDIS_URL = ""


def _fixture(fid, kickoff, home, away, **kwargs):
    return make_fixture(fid, kickoff=kickoff, home=home, away=away, league_id=LEAGUE, season=SEASON, **kwargs)


def test_after_a_five_hour_outage_the_next_tick_catches_up_and_leaves_the_rest_to_the_backfill(
    api, lineup, kickoff, in_process, settings
):
    t0 = kickoff - timedelta(hours=6)
    early = _fixture(1, t0 + timedelta(minutes=20), HOME, AWAY)  # predicted just before the outage
    missed = _fixture(2, t0 + timedelta(hours=2), OTHER_HOME, OTHER_AWAY)  # kicked off during it
    upcoming = _fixture(3, t0 + timedelta(hours=5, minutes=20), HOME, OTHER_AWAY)  # still ahead after it
    api.set_fixtures([early, missed, upcoming])
    before = tick(now=t0)
    assert [e["state"] for e in before.predicted] == ["done"]
    by_ext = {m.external_id: m for m in Match.objects.all()}
    assert by_ext[1].predictions.count() == 3

    # Down for five hours; meanwhile both early matches were played.
    api.upsert_fixture(_fixture(1, t0 + timedelta(minutes=20), HOME, AWAY, status="FT", goals=(2, 1)))
    api.upsert_fixture(_fixture(2, t0 + timedelta(hours=2), OTHER_HOME, OTHER_AWAY, status="FT", goals=(0, 0)))
    after = tick(now=t0 + timedelta(hours=5))
    assert after.ok, after.errors
    for match in by_ext.values():
        match.refresh_from_db()
    assert by_ext[1].status == "finished" and by_ext[1].settled_at is not None
    assert set(by_ext[1].predictions.values_list("status", flat=True)) == {"scored"}
    assert by_ext[2].status == "finished" and not by_ext[2].predictions.exists()  # never predicted late
    assert by_ext[3].analysis is not None and by_ext[3].predictions.count() == 3
    assert not Prediction.objects.filter(is_retroactive=True).exists()
    gaps = find_gaps(days=7, now=t0 + timedelta(hours=5))
    assert [g.match_id for g in gaps] == [by_ext[2].pk]  # the backfill's, flagged when it makes them
    assert tick(now=t0 + timedelta(hours=5)).predicted == []


def test_a_predictions_analysis_is_byte_for_byte_unchanged_across_a_later_backfill(lineup, in_process):
    match = MatchFactory(finished=True, home_score=2, away_score=0)
    made_from = MatchAnalysisFactory(match=match, as_of=match.kickoff_time - timedelta(hours=6),
                                     data={"schema": 1, "history": [], "note": "as known at T-6h"})
    Prediction.objects.create(match=match, model=lineup[0], analysis=made_from, predicted_home=1,
                              predicted_away=0, prompt_version="v1")
    frozen = json.dumps(MatchAnalysis.objects.values("as_of", "data").get(pk=made_from.pk), default=str)
    # The gap query counts the T-6h analysis as present: no analysis stage, only the missing models.
    (gap,) = find_gaps(days=7)
    assert gap.has_analysis and gap.stages == ("predict", "settle")

    # The kickoff is then corrected to earlier than the analysis: the backfill needs a new version.
    Match.objects.filter(pk=match.pk).update(kickoff_time=match.kickoff_time - timedelta(hours=7))
    run = backfill.start_backfill(backfill.plan_backfill(7), triggered_by="test")
    assert run.status == "succeeded"
    assert json.dumps(MatchAnalysis.objects.values("as_of", "data").get(pk=made_from.pk), default=str) == frozen
    first = Prediction.objects.get(match=match, model=lineup[0])
    assert first.analysis_id == made_from.pk
    match.refresh_from_db()
    current = match.analysis
    assert current.pk != made_from.pk and current.as_of <= match.kickoff_time
    assert set(Prediction.objects.exclude(pk=first.pk).values_list("analysis_id", flat=True)) == {current.pk}
    assert MatchAnalysis.objects.filter(match=match).count() == 2


def test_the_embedded_default_replays_a_matchday_without_an_api_key(in_process, settings, db):
    from pipeline import replay

    settings.API_FOOTBALL_KEY = ""
    PredictionModelFactory(slug="elo", provider="elo", config={})
    PredictionModelFactory(slug="always-2-1", provider="fixed_score", config={"home": 2, "away": 1})
    from django.utils import timezone

    start = timezone.now()
    plan = replay.start_replay(now=start, league="en.1", season="2024-25", round="Matchday 38")
    matches = Match.objects.filter(pk__in=plan.match_ids)
    assert matches.count() == 10 and not matches.filter(home_score__isnull=False).exists()
    clock = start
    while clock <= plan.ends_at + timedelta(minutes=20):
        report = tick(now=clock)
        assert report.ok, report.errors
        for change in report.changed:
            match = Match.objects.get(pk=change["match_id"])
            # A result appears only once the replayed clock has passed the match's end.
            assert (match.home_score is not None) == (clock >= match.replay_result.ends_at)
        clock += timedelta(minutes=20)
    assert replay.finished(plan)
    preds = Prediction.objects.filter(match__in=matches)
    assert preds.count() == 20 and not preds.filter(is_retroactive=True).exists()
    assert set(preds.values_list("status", flat=True)) == {"scored"}
    assert all(p.created_at < p.match.kickoff_time for p in preds.select_related("match"))


def test_a_replayed_match_never_learns_from_the_real_clubs_matches(in_process, db):
    from django.utils import timezone

    from matches.services.analysis import ensure_analysis
    from matches.services.openfootball_import import import_season
    from pipeline import replay

    def facts_of_a_replayed_match() -> dict:
        plan = replay.start_replay(now=timezone.now(), league="en.1", season="2024-25", round="Matchday 38")
        analysis, _ = ensure_analysis(match_id=plan.match_ids[0])
        return analysis.data["sources"]

    alone = facts_of_a_replayed_match()
    # The real season, this matchday's results included, dated long before the shifted kickoff.
    import_season("en.1", "2024-25")
    assert facts_of_a_replayed_match() == alone
    assert Match.objects.get(pk=replay.start_replay(now=timezone.now(), round="Matchday 38").match_ids[0]
                             ).home_team.name.endswith("(replay)")
