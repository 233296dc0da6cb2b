"""Admin of the lineup and predictions: health at a glance, re-enable, the analysis link."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from tests.factories import MatchAnalysisFactory, PredictionFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_model_list_shows_health_and_re_enable_resets_the_breaker(admin_client):
    tripped = PredictionModelFactory(
        slug="flaky-llm", is_active=False, consecutive_failures=5, last_error="HTTP 500 from provider",
        disabled_at=timezone.now(), inactive_reason="circuit breaker: 5 consecutive failures",
    )
    html = admin_client.get(reverse("admin:predictions_predictionmodel_changelist")).content.decode()
    assert "flaky-llm" in html and "HTTP 500 from provider" in html and "circuit breaker" in html
    admin_client.post(
        reverse("admin:predictions_predictionmodel_changelist"),
        {"action": "reenable", "_selected_action": [tripped.pk]},
    )
    tripped.refresh_from_db()
    assert tripped.is_active and tripped.consecutive_failures == 0 and tripped.disabled_at is None
    assert tripped.inactive_reason == ""


def test_prediction_list_links_to_the_analysis_it_was_made_from(admin_client):
    analysis = MatchAnalysisFactory()
    PredictionFactory(match=analysis.match, analysis=analysis, predicted_home=3, predicted_away=1)
    html = admin_client.get(reverse("admin:predictions_prediction_changelist")).content.decode()
    assert reverse("admin:matches_matchanalysis_change", args=[analysis.pk]) in html and "3-1" in html


def test_re_enable_refuses_a_model_that_sync_switched_off_and_says_why(admin_client):
    """Its key is missing: switched on, it would raise the gap threshold and fail every match."""
    keyless = PredictionModelFactory(slug="keyless-llm", is_active=False,
                                     inactive_reason="API key not configured: set TOGETHER_API_KEY")
    tripped = PredictionModelFactory(slug="flaky-llm", is_active=False, disabled_at=timezone.now(),
                                     inactive_reason="circuit breaker: 5 consecutive failures")

    response = admin_client.post(
        reverse("admin:predictions_predictionmodel_changelist"),
        {"action": "reenable", "_selected_action": [keyless.pk, tripped.pk]}, follow=True,
    )

    keyless.refresh_from_db()
    tripped.refresh_from_db()
    assert not keyless.is_active and keyless.inactive_reason.startswith("API key not configured")
    assert tripped.is_active
    shown = [str(m) for m in response.context["messages"]]
    assert "Re-enabled 1 model(s)." in shown
    assert any(m.startswith("keyless-llm not re-enabled: sync_models switched it off") for m in shown)
