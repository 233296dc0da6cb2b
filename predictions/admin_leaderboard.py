"""The admin page "Leaderboard": the command's filters as a form, the table with interval bars, trends and flags."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from matches.models import Competition
from predictions import leaderboard_charts as charts
from predictions.leaderboard import LeaderboardError, Scope, check_names, leaderboard, parse_season

DAY_CHOICES = [("", "any time"), ("7", "last 7 days"), ("30", "last 30 days"), ("90", "last 90 days")]


class LeaderboardForm(forms.Form):
    competition = forms.MultipleChoiceField(required=False, widget=forms.SelectMultiple(attrs={"size": 4}))
    season = forms.CharField(required=False, max_length=9, help_text="2024 or 2024-25")
    team = forms.CharField(required=False, max_length=200)
    days = forms.ChoiceField(required=False, choices=DAY_CHOICES)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    min_predictions = forms.IntegerField(required=False, min_value=1, initial=1, label="Min. predictions")
    prompt_version = forms.CharField(required=False, max_length=40)
    include_retroactive = forms.BooleanField(required=False, label="Include retroactive")
    common = forms.BooleanField(required=False, label="Common matches only")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        codes = Competition.objects.exclude(code="").order_by("code").values_list("code", flat=True).distinct()
        self.fields["competition"].choices = [(c, c) for c in codes]

    def scope(self) -> Scope:
        """The validated filters; raises LeaderboardError with the command's wording."""
        data = self.cleaned_data
        scope = Scope(
            competitions=tuple(data["competition"]), team=data["team"] or None,
            season=parse_season(data["season"]) if data["season"] else None,
            date_from=data["date_from"], date_to=data["date_to"], days=int(data["days"]) if data["days"] else None,
            min_predictions=data["min_predictions"] or 1, include_retroactive=data["include_retroactive"],
            common=data["common"], prompt_version=data["prompt_version"] or None,
        )
        check_names(scope)
        return scope


def _changelist_url(model_id: int, scope: Scope) -> str:
    query = {"model__id__exact": model_id, "status__exact": "scored"}
    if not scope.include_retroactive:
        query["is_retroactive__exact"] = 0
    return f"{reverse('admin:predictions_prediction_changelist')}?{urlencode(query)}"


def leaderboard_view(request: HttpRequest, admin_site) -> HttpResponse:
    """Staff with predictions.view_prediction; GET only (it changes nothing)."""
    if not request.user.has_perm("predictions.view_prediction"):
        raise PermissionDenied
    form = LeaderboardForm(request.GET or None)
    board, scope, error = None, None, None
    if form.is_bound and not form.is_valid():
        error = "Correct the filters below."
    else:
        if form.is_bound:
            try:
                scope = form.scope()
            except LeaderboardError as exc:
                error = str(exc)
        else:
            scope = Scope()
    context = {**admin_site.each_context(request), "title": "Leaderboard", "form": form, "error": error}
    if scope is not None:
        now = timezone.now()
        board = leaderboard(scope, now=now)
        trends = charts.trends(charts.daily_totals(scope, now=now))
        scale = charts.interval_scale(board.rows)
        context.update(
            board=board, scale=round(scale, 2), bar_w=charts.BAR_W, bar_h=charts.BAR_H,
            spark_w=charts.SPARK_W, spark_h=charts.SPARK_H,
            rows=[{**row, "bar": charts.interval_bar(row, scale), "trend": trends.get(row["model_id"]),
                   "url": _changelist_url(row["model_id"], scope)} for row in board.rows],
        )
    return TemplateResponse(request, "admin/predictions/leaderboard.html", context)
