"""The pipeline's lead times come from the environment: seconds, or a number with s, m or h."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.settings import _parse_duration


def test_lead_time_defaults_are_6_hours_and_30_minutes():
    assert settings.ANALYSIS_LEAD == timedelta(hours=6)
    assert settings.PREDICTION_LEAD == timedelta(minutes=30)


@pytest.mark.parametrize(("text", "expected"), [("90", 90), ("90s", 90), ("45m", 2700), ("1.5h", 5400), ("7d", 604800)])
def test_lead_times_read_seconds_minutes_and_hours(text, expected):
    assert _parse_duration(text) == timedelta(seconds=expected)


def test_a_lead_time_that_is_not_a_duration_is_refused():
    with pytest.raises(ImproperlyConfigured, match="is not a duration"):
        _parse_duration("six hours")
