"""check_match_summary: finds match rows whose prediction summary is wrong (exit 1), repairs with --repair."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.factories import MatchFactory, PredictionFactory, PredictionModelFactory
from tests.prediction_summary import summary_drift

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("check_match_summary", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def drifted():
    """Two matches with predictions; one summary damaged by hand, as a load with triggers off would."""
    model = PredictionModelFactory()
    matches = [MatchFactory(finished=True, home_score=1, away_score=0) for _ in range(2)]
    for match in matches:
        PredictionFactory(match=match, model=model)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE matches_match SET unsettled_predictions = 0 WHERE id = %s", [matches[0].pk])
    return matches[0]


def test_a_true_summary_passes():
    PredictionFactory(match=MatchFactory(), model=PredictionModelFactory())
    assert "summary is true" in _run()


def test_a_drifted_summary_exits_1_with_one_line_and_changes_nothing(drifted):
    with pytest.raises(CommandError) as caught:
        _run()
    assert caught.value.returncode == 1
    assert str(caught.value).startswith("1 match row(s) have a wrong prediction summary")
    assert "\n" not in str(caught.value)
    assert [row[0] for row in summary_drift()] == [drifted.pk]  # only looked


def test_repair_recounts_and_the_next_check_passes(drifted):
    out = _run("--repair")
    assert f"match {drifted.pk}: unsettled 0 (true 1)" in out and "Repaired 1 match row(s)" in out
    assert summary_drift() == []
    assert "summary is true" in _run()


def test_json_reports_the_drift_and_the_repair(drifted):
    with pytest.raises(CommandError):
        call_command("check_match_summary", "--json", stdout=(out := StringIO()))
    report = json.loads(out.getvalue())
    assert report["supported"] and report["drifted"] == 1 and report["repaired"] == 0
    assert report["examples"][0]["match_id"] == drifted.pk and report["examples"][0]["true_unsettled_predictions"] == 1
    repaired = json.loads(_run("--json", "--repair"))
    assert repaired["repaired"] == 1 and summary_drift() == []
