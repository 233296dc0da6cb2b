"""analyze_match: idempotent, one analysis however often or concurrently it runs."""

from datetime import timedelta

import pytest

from matches.jobs import analyze_match
from matches.models import Match, MatchAnalysis
from matches.services import AnalysisRefused, ensure_analysis
from tests.concurrency import run_at_once
from tests.factories import MatchAnalysisFactory, MatchFactory, utc

KICKOFF = utc(2025, 3, 1, 15)


@pytest.mark.django_db
def test_second_run_keeps_the_first_analysis():
    match = MatchFactory(kickoff_time=KICKOFF)
    MatchFactory(
        competition=match.competition,
        home_team=match.home_team,
        kickoff_time=KICKOFF - timedelta(days=4),
        finished=True,
    )
    first = analyze_match(match.pk)
    stored = MatchAnalysis.objects.get(match=match)
    second = analyze_match(match.pk)
    assert first == {"match_id": match.pk, "created": True, "analysis_id": stored.pk}
    assert second == {"match_id": match.pk, "created": False, "analysis_id": stored.pk}
    assert MatchAnalysis.objects.count() == 1
    assert stored.as_of == KICKOFF
    assert stored.data["schema"] == 1 and stored.data["rest"]["home"]["days"] == 4


@pytest.mark.django_db
def test_an_existing_analysis_is_not_rebuilt():
    analysis = MatchAnalysisFactory(match=MatchFactory(kickoff_time=KICKOFF), data={"schema": 1, "kept": True})
    assert analyze_match(analysis.match_id)["created"] is False
    analysis.refresh_from_db()
    assert analysis.data == {"schema": 1, "kept": True}


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Match.Status.CANCELLED, Match.Status.POSTPONED])
def test_cancelled_and_postponed_matches_are_refused(status):
    match = MatchFactory(kickoff_time=KICKOFF, status=status)
    with pytest.raises(AnalysisRefused, match=status):
        analyze_match(match.pk)
    assert not MatchAnalysis.objects.exists()
    match.refresh_from_db()
    assert match.status == status


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_make_exactly_one_analysis():
    match = MatchFactory(kickoff_time=KICKOFF)
    results = run_at_once(lambda: analyze_match(match.pk), times=4)
    assert MatchAnalysis.objects.filter(match=match).count() == 1
    assert sorted(r["created"] for r in results) == [False, False, False, True]
    assert len({r["analysis_id"] for r in results}) == 1


@pytest.mark.django_db
def test_a_new_version_is_made_when_the_kickoff_moved_before_the_analysis_and_the_old_one_is_kept():
    match = MatchFactory(kickoff_time=KICKOFF)
    stale = MatchAnalysisFactory(match=match, as_of=KICKOFF + timedelta(days=2), data={"schema": 1, "stale": True})
    result = analyze_match(match.pk)
    stale.refresh_from_db()
    assert result["created"] is True and result["analysis_id"] != stale.pk
    assert stale.as_of == KICKOFF + timedelta(days=2) and stale.data == {"schema": 1, "stale": True}
    assert match.analysis.pk == result["analysis_id"] and match.analysis.as_of == KICKOFF
    assert analyze_match(match.pk)["created"] is False


@pytest.mark.django_db
def test_an_earlier_as_of_builds_from_results_known_by_then_only():
    match = MatchFactory(kickoff_time=KICKOFF)
    MatchFactory(competition=match.competition, home_team=match.home_team,
                 kickoff_time=KICKOFF - timedelta(days=4), finished=True)
    MatchFactory(competition=match.competition, home_team=match.home_team,
                 kickoff_time=KICKOFF - timedelta(hours=5), finished=True)
    analysis, created = ensure_analysis(match_id=match.pk, as_of=KICKOFF - timedelta(hours=6))
    assert created and analysis.as_of == KICKOFF - timedelta(hours=6)
    assert analysis.data["sources"]["db"] == 1
    assert analysis.data["as_of"] == (KICKOFF - timedelta(hours=6)).isoformat()
