"""The admin page "Leaderboard" through Django's test client: permission, link, filters, drill-down."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from tests.predictions.leaderboard_data import build_scene

URL = "/admin/predictions/prediction/leaderboard/"


def _staff(*codenames: str) -> User:
    user = User.objects.create_user(username="viewer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.django_db
def test_the_page_needs_view_prediction(client):
    client.force_login(_staff("view_match"))
    assert client.get(URL).status_code == 403
    assert "leaderboard-link" not in client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_the_index_links_to_the_page_and_it_ranks_models_with_bars_trends_and_flags(client):
    build_scene()
    client.force_login(_staff("view_prediction"))
    index = client.get("/admin/").content.decode()
    assert reverse("admin:predictions_leaderboard") in index
    response = client.get(URL)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows[0]["model"] == "alpha"
    assert {r["model"] for r in rows} == {"alpha", "beta", "cheat", "england-only"}
    html = response.content.decode()
    assert html.count('class="interval"') == 4 and html.count("<polyline") == 4
    cheat = next(r for r in rows if r["model"] == "cheat")
    assert cheat["flagged"] and not any(r["flagged"] for r in rows if r["model"] != "cheat")
    assert "⚑ flagged" in html


@pytest.mark.django_db
def test_filters_change_the_rows_and_bad_ones_show_the_error(client):
    build_scene()
    client.force_login(_staff("view_prediction"))
    rows = client.get(URL, {"competition": "de.1"}).context["rows"]
    assert {r["model"] for r in rows} == {"alpha", "beta", "cheat"}
    common = client.get(URL, {"common": "on"}).context["rows"]
    assert {r["predictions"] for r in common} == {20}  # the 20 pre-kickoff en.1 matches all four predicted
    response = client.get(URL, {"days": "7", "date_from": "2024-01-01"})
    assert "use either --days or --from/--to" in response.content.decode()
    assert "rows" not in response.context


@pytest.mark.django_db
def test_a_model_links_to_its_predictions_with_points_and_the_retroactive_flag(client):
    scene = build_scene()
    client.force_login(_staff("view_prediction"))
    row = next(r for r in client.get(URL).context["rows"] if r["model"] == "beta")
    assert f"model__id__exact={scene['models']['beta'].pk}" in row["url"] and "is_retroactive__exact=0" in row["url"]
    changelist = client.get(row["url"])
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == row["predictions"]
    html = changelist.content.decode()
    assert "column-total_points" in html and "column-is_retroactive" in html
