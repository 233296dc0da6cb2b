from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html

from predictions.admin_leaderboard import leaderboard_view
from predictions.models import Prediction, PredictionModel
from predictions.services.health import reenable_models


@admin.register(PredictionModel)
class PredictionModelAdmin(admin.ModelAdmin):
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

    @admin.action(description="Re-enable selected models (reset their circuit breaker)", permissions=["change"])
    def reenable(self, request, queryset):
        count, refused = reenable_models(queryset)
        self.message_user(request, f"Re-enabled {count} model(s).", messages.SUCCESS)
        for model in refused:
            self.message_user(
                request,
                f"{model.slug} not re-enabled: sync_models switched it off ({model.inactive_reason}). "
                "Fix the environment or predictions/lineup.toml, then run sync_models.",
                messages.WARNING,
            )


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = [
        "match", "model", "tip", "status", "tendency_points", "goal_diff_bonus", "exact_score_bonus",
        "total_points", "is_retroactive", "prompt_version", "kickoff", "analysis_link", "created_at",
    ]
    list_filter = [
        "status", "is_retroactive", "model", "match__competition", "prompt_version",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["model__slug", "match__home_team__name", "match__away_team__name"]
    list_select_related = ["match__home_team", "match__away_team", "model"]
    raw_id_fields = ["match", "analysis"]

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
