"""match_labels: the plan's and the report's line per match, the same on PostgreSQL's path and the portable one."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from backfill.services import report
from backfill.services.report import match_labels
from tests.factories import MatchFactory

pytestmark = pytest.mark.django_db


def test_label_names_the_teams_the_utc_minute_and_the_competition():
    # Stored from a +02:00 clock: the label is in UTC whatever the input's offset.
    kickoff = datetime(2025, 3, 1, 17, 30, 59, tzinfo=timezone(timedelta(hours=2)))
    match = MatchFactory(kickoff_time=kickoff, home_team__name="Arsenal", away_team__name="Chelsea",
                         competition__code="en.1")
    assert match_labels([match.pk]) == {match.pk: f"#{match.pk} Arsenal v Chelsea, 2025-03-01 15:30 UTC, en.1"}


def test_postgresql_path_and_portable_path_agree(monkeypatch):
    """Ids as one array and the minute written by PostgreSQL: the same labels as the ORM's IN list."""
    matches = [MatchFactory(kickoff_time=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)) for i in range(5)]
    matches[0].competition.code = ""  # no code: the competition's name stands in
    matches[0].competition.save()
    ids = [m.pk for m in matches] + [10**9]  # an unknown id is simply absent
    tuned = match_labels(ids)
    monkeypatch.setattr(report, "connection", type("Other", (), {"vendor": "sqlite"})())
    portable = match_labels(ids)
    assert connection.vendor == "postgresql"
    assert tuned == portable and set(tuned) == {m.pk for m in matches}
    assert tuned[matches[0].pk].endswith(f", {matches[0].competition.name}")
