from django import forms
from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from matches.admin import MatchAdmin
from matches.models import Match
from predictions import selectors
from predictions.admin_leaderboard import leaderboard_view
from predictions.models import Prediction, PredictionModel
from predictions.services.health import reenable_models, reset_breaker
from predictions.services.lineup import activation_refusal


class PredictionModelForm(forms.ModelForm):
    """Switching a model on by hand obeys the rule sync_models obeys (``activation_refusal``)."""

    class Meta:
        model = PredictionModel
        fields = ["slug", "name", "provider", "config", "is_active", "inactive_reason"]

    def clean(self):
        cleaned = super().clean()
        was_active = self.instance.pk is not None and PredictionModel.objects.filter(
            pk=self.instance.pk, is_active=True
        ).exists()
        if cleaned.get("is_active") and not was_active:
            candidate = PredictionModel(
                provider=cleaned.get("provider", self.instance.provider),
                config=cleaned.get("config", self.instance.config) or {},
                is_active=False,
                inactive_reason=self.instance.inactive_reason if self.instance.pk else "",
                disabled_at=self.instance.disabled_at if self.instance.pk else None,
            )
            if why := activation_refusal(model=candidate):
                self.add_error("is_active", f"Cannot be switched on: {why}")
        return cleaned


@admin.register(PredictionModel)
class PredictionModelAdmin(admin.ModelAdmin):
    form = PredictionModelForm
    list_display = [
        "slug", "name", "provider", "is_active", "last_success_at", "consecutive_failures",
        "short_last_error", "inactive_reason",
    ]
    list_filter = ["is_active", "provider"]
    search_fields = ["slug", "name"]
    readonly_fields = ["consecutive_failures", "last_error", "last_success_at", "disabled_at"]
    actions = ["reenable"]

    @admin.display(description="Last error")
    def short_last_error(self, obj: PredictionModel) -> str:
        return obj.last_error[:120]

    def save_model(self, request, obj, form, change):
        if change and "is_active" in form.changed_data and obj.is_active:
            reset_breaker(obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Re-enable selected models (reset their circuit breaker)", permissions=["change"])
    def reenable(self, request, queryset):
        count, refused = reenable_models(queryset)
        self.message_user(request, f"Re-enabled {count} model(s).", messages.SUCCESS)
        for model, why in refused:
            self.message_user(request, f"{model.slug} not re-enabled: {why}", messages.WARNING)


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = [
        "match_link", "model", "tip", "status", "tendency_points", "goal_diff_bonus", "exact_score_bonus",
        "total_points", "is_retroactive", "prompt_version", "kickoff", "analysis_link", "created_at",
    ]
    list_filter = [
        "status", "is_retroactive", "model", "match__competition", "prompt_version",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["model__slug", "match__home_team__name", "match__away_team__name"]
    list_select_related = ["match__home_team", "match__away_team", "model"]
    raw_id_fields = ["match", "analysis"]

    @admin.display(description="Match", ordering="match__kickoff_time")
    def match_link(self, obj: Prediction) -> str:
        url = reverse("admin:matches_match_change", args=[obj.match_id])
        return format_html('<a class="match-link" href="{}">{}</a>', url, obj.match)

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request: leaderboard_view(request, self.admin_site))
        return [path("leaderboard/", view, name="predictions_leaderboard"), *super().get_urls()]

    @admin.display(description="Kickoff", ordering="match__kickoff_time")
    def kickoff(self, obj: Prediction):
        return obj.match.kickoff_time

    @admin.display(description="Tip")
    def tip(self, obj: Prediction) -> str:
        return f"{obj.predicted_home}-{obj.predicted_away}"

    @admin.display(description="Made from")
    def analysis_link(self, obj: Prediction) -> str:
        if obj.analysis_id is None:
            return "-"
        url = reverse("admin:matches_matchanalysis_change", args=[obj.analysis_id])
        return format_html('<a href="{}">analysis {}</a>', url, obj.analysis_id)


class _CoverageFilter(admin.SimpleListFilter):
    """A yes-only filter over the coverage annotations (``selectors.with_prediction_coverage``)."""

    select = staticmethod(lambda matches: matches)

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        return type(self).select(queryset) if self.value() == "yes" else queryset


class MissingPredictionsFilter(_CoverageFilter):
    title = "missing predictions"
    parameter_name = "missing_predictions"
    select = staticmethod(selectors.missing_predictions)


class MissingAnalysisFilter(_CoverageFilter):
    title = "missing analysis"
    parameter_name = "missing_analysis"
    select = staticmethod(selectors.missing_analysis)


class NotSettledFilter(_CoverageFilter):
    title = "not settled"
    parameter_name = "not_settled"
    select = staticmethod(selectors.not_settled)


class RetroactiveOnlyFilter(_CoverageFilter):
    title = "retroactive only"
    parameter_name = "retroactive_only"
    select = staticmethod(selectors.retroactive_only)


class PredictionMatchAdmin(MatchAdmin):
    """The match list with what the benchmark has of each match, sized for a 1400 px screen."""

    list_display = [
        "__str__", "competition", "kickoff_time", "status", "predictions_made", "analysis_made", "settled",
        "next_due",
    ]
    list_filter = [
        MissingPredictionsFilter, MissingAnalysisFilter, NotSettledFilter, RetroactiveOnlyFilter,
        *MatchAdmin.list_filter,
    ]
    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *(["benchmark_links"] if obj else [])]

    def get_queryset(self, request):
        return selectors.with_prediction_coverage(super().get_queryset(request))

    @admin.display(description="Predicted before kickoff / active", ordering="pre_kickoff_count")
    def predictions_made(self, obj: Match) -> str:
        url = reverse("admin:predictions_prediction_changelist") + f"?match__id__exact={obj.pk}"
        retro = f" +{obj.retro_count} retro" if obj.retro_count else ""
        return format_html(
            '<a class="predictions-link" href="{}">{} / {}{}</a>', url, obj.pre_kickoff_count, obj.active_count, retro
        )

    @admin.display(description="Analysis", ordering="analysis_pk")
    def analysis_made(self, obj: Match) -> str:
        if obj.analysis_pk is None:
            return "-"
        url = reverse("admin:matches_matchanalysis_change", args=[obj.analysis_pk])
        return format_html('<a class="analysis-link" href="{}">yes</a>', url)

    @admin.display(description="Settled", boolean=True)
    def settled(self, obj: Match) -> bool | None:
        if obj.status != Match.Status.FINISHED:
            return None
        return obj.settled_at is not None and obj.pending_count == 0

    @admin.display(description="Next due")
    def next_due(self, obj: Match) -> str:
        step = selectors.next_step(match=obj, now=timezone.now())
        if step is None:
            return "-"
        if step.at is None:
            return f"{step.what} (late)"
        return f"{step.what} {timezone.localtime(step.at):%m-%d %H:%M}"

    @admin.display(description="Benchmark")
    def benchmark_links(self, obj: Match) -> str:
        predictions = reverse("admin:predictions_prediction_changelist") + f"?match__id__exact={obj.pk}"
        links = format_html('<a class="predictions-link" href="{}">its predictions</a>', predictions)
        if obj.analysis_pk is not None:
            url = reverse("admin:matches_matchanalysis_change", args=[obj.analysis_pk])
            links += format_html(' · <a class="analysis-link" href="{}">its analysis</a>', url)
        return links


admin.site.unregister(Match)
admin.site.register(Match, PredictionMatchAdmin)
