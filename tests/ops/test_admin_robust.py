"""The admin an operator can trust: the dashboard without Redis, 403 in the chrome, the model form's rule,
the prediction-aware match list, and the layering that keeps ``matches`` free of ``predictions``."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from matches.models import Match
from predictions.models import PredictionModel
from predictions.selectors import next_step, with_prediction_coverage
from tests.factories import (
    LLMPredictionModelFactory,
    MatchAnalysisFactory,
    MatchFactory,
    PredictionFactory,
    PredictionModelFactory,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "/admin/django_rq/dashboard/"
CHANGELIST = "admin:matches_match_changelist"


@pytest.fixture
def superuser(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return user


def test_the_dashboard_without_redis_explains_itself_inside_the_admin(superuser, client, settings):
    settings.REDIS_URL = ""

    page = client.get(DASHBOARD)

    html = page.content.decode()
    assert page.status_code == 503
    assert 'id="header"' in html and "Jobs run in-process (REDIS_URL is unset)" in html


def test_the_dashboard_with_redis_down_explains_itself_instead_of_a_500(superuser, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {"URL": "redis://127.0.0.1:1/0"} for name in ("default", "backfill")}

    page = client.get(DASHBOARD)

    assert page.status_code == 503
    assert "does not answer" in page.content.decode() and 'id="header"' in page.content.decode()


def test_a_403_keeps_the_admin_chrome(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match"))
    client.force_login(user)

    for url in (DASHBOARD, reverse("admin:matches_match_add")):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 403, url
        assert 'id="header"' in html and "Permission denied" in html and "/static/admin/css/base.css" in html


def _change(client, model: PredictionModel, **fields):
    data = {"slug": model.slug, "name": model.name, "provider": model.provider,
            "config": __import__("json").dumps(model.config), "inactive_reason": model.inactive_reason, **fields}
    return client.post(reverse("admin:predictions_predictionmodel_change", args=[model.pk]), data)


def test_the_model_form_refuses_a_model_sync_switched_off(superuser, client, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    model = LLMPredictionModelFactory(is_active=False, inactive_reason="API key not configured: set TOGETHER_API_KEY")

    page = _change(client, model, is_active="on")

    assert page.status_code == 200 and "Cannot be switched on: sync_models switched it off" in page.content.decode()
    assert not PredictionModel.objects.get(pk=model.pk).is_active


def test_the_model_form_refuses_a_model_whose_key_is_unset(superuser, client, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    model = LLMPredictionModelFactory(is_active=False, disabled_at=timezone.now(), inactive_reason="circuit breaker")

    page = _change(client, model, is_active="on")

    assert "API key not configured: set TOGETHER_API_KEY" in page.content.decode()
    assert not PredictionModel.objects.get(pk=model.pk).is_active


def test_the_model_form_reenables_a_tripped_model_and_resets_its_breaker(superuser, client):
    model = PredictionModelFactory(
        is_active=False, disabled_at=timezone.now(), consecutive_failures=5, inactive_reason="circuit breaker"
    )

    page = _change(client, model, is_active="on")

    assert page.status_code == 302
    model.refresh_from_db()
    assert model.is_active and model.consecutive_failures == 0 and model.disabled_at is None
    assert model.inactive_reason == ""


@pytest.fixture
def coverage_world():
    """Two active models; one matches per situation the filters tell apart."""
    models = [PredictionModelFactory(), PredictionModelFactory()]
    PredictionModelFactory(is_active=False)
    past = timezone.now() - timedelta(days=1)
    world = {
        "complete": MatchFactory(finished=True, kickoff_time=past, settled_at=timezone.now()),
        "no_analysis": MatchFactory(kickoff_time=timezone.now() + timedelta(days=1)),
        "unsettled": MatchFactory(finished=True, kickoff_time=past),
        "retro_only": MatchFactory(finished=True, kickoff_time=past, settled_at=timezone.now()),
    }
    for name in ("complete", "unsettled", "retro_only"):
        MatchAnalysisFactory(match=world[name])
    for model in models:
        PredictionFactory(match=world["complete"], model=model, status="scored")
        PredictionFactory(match=world["unsettled"], model=model)
    PredictionFactory(match=world["retro_only"], model=models[0], is_retroactive=True, status="scored")
    return world


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("missing_predictions", {"no_analysis", "retro_only"}),
        ("missing_analysis", {"no_analysis"}),
        ("not_settled", {"unsettled"}),
        ("retroactive_only", {"retro_only"}),
    ],
)
def test_match_list_filters(superuser, client, coverage_world, parameter, expected):
    page = client.get(reverse(CHANGELIST), {parameter: "yes"})

    shown = {m.pk for m in page.context["cl"].result_list}
    assert shown == {coverage_world[name].pk for name in expected}


def test_match_list_columns_and_links_to_predictions_and_analysis_and_back(superuser, client, coverage_world):
    match = coverage_world["complete"]
    html = client.get(reverse(CHANGELIST)).content.decode()

    predictions_url = reverse("admin:predictions_prediction_changelist") + f"?match__id__exact={match.pk}"
    assert f'href="{predictions_url}">2 / 2</a>' in html.replace("&amp;", "&")
    assert reverse("admin:matches_matchanalysis_change", args=[match.analysis.pk]) in html
    assert "Backfill selected matches" in html  # the backfill admin's action survives the subclass
    back = client.get(predictions_url).content.decode()
    assert reverse("admin:matches_match_change", args=[match.pk]) in back
    analysis_page = client.get(reverse("admin:matches_matchanalysis_change", args=[match.analysis.pk]))
    assert reverse("admin:matches_match_change", args=[match.pk]) in analysis_page.content.decode()
    change = client.get(reverse("admin:matches_match_change", args=[match.pk])).content.decode()
    assert "its predictions" in change and "its analysis" in change


def test_next_due_is_analysis_then_predictions_before_kickoff(settings, coverage_world):
    match = with_prediction_coverage(Match.objects.filter(pk=coverage_world["no_analysis"].pk)).get()
    now = timezone.now()

    assert next_step(match=match, now=now).what == "analysis"
    assert next_step(match=match, now=now).at == match.kickoff_time - settings.ANALYSIS_LEAD
    MatchAnalysisFactory(match=match)
    match = with_prediction_coverage(Match.objects.filter(pk=match.pk)).get()
    assert next_step(match=match, now=now).what == "predictions"
    assert next_step(match=match, now=now).at == match.kickoff_time - settings.PREDICTION_LEAD
    unsettled = with_prediction_coverage(Match.objects.filter(pk=coverage_world["unsettled"].pk)).get()
    assert next_step(match=unsettled, now=now).what == "settlement"


def test_the_match_admin_of_matches_never_imports_predictions_or_the_orchestration():
    """The prediction-aware match list lives in predictions/admin.py (the layering rule)."""
    path = ROOT / "matches" / "admin.py"
    imported = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
    assert imported and not [n for n in imported if n.split(".")[0] in {"predictions", "backfill", "pipeline"}]
