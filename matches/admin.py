from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from matches.models import Competition, Match, MatchAnalysis, Team


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "season", "country", "code", "result_rule", "external_id"]
    list_filter = ["season", "country"]
    search_fields = ["name", "code", "country"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id"]
    search_fields = ["name"]


class MatchAnalysisInline(admin.StackedInline):
    """Every version, newest first; read-only (a version a prediction references is never changed)."""

    model = MatchAnalysis
    extra = 0
    max_num = 0
    ordering = ["-as_of", "-pk"]
    readonly_fields = ["as_of", "data", "created_at"]
    can_delete = False


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    """What happened; the predictions app registers a subclass with the benchmark's columns
    (``matches`` knows nothing of predictions)."""

    list_display = ["__str__", "competition", "kickoff_time", "status", "score", "quotas"]
    list_filter = ["status", "competition", ("kickoff_time", admin.DateFieldListFilter)]
    search_fields = ["home_team__name", "away_team__name", "external_id", "competition__name"]
    date_hierarchy = "kickoff_time"
    list_select_related = ["home_team", "away_team", "competition"]
    raw_id_fields = ["home_team", "away_team"]
    inlines = [MatchAnalysisInline]

    @admin.display(description="Score")
    def score(self, obj: Match) -> str:
        return f"{obj.home_score}-{obj.away_score}" if obj.has_score else "-"

    @admin.display(description="Quotas H/D/A")
    def quotas(self, obj: Match) -> str:
        return f"{obj.quota_home}/{obj.quota_draw}/{obj.quota_away}" if obj.quota_home else "-"


@admin.register(MatchAnalysis)
class MatchAnalysisAdmin(admin.ModelAdmin):
    list_display = ["match_link", "as_of", "created_at"]
    list_filter = [("as_of", admin.DateFieldListFilter)]
    search_fields = ["match__home_team__name", "match__away_team__name"]
    raw_id_fields = ["match"]
    list_select_related = ["match__home_team", "match__away_team"]
    readonly_fields = ["match_link"]

    @admin.display(description="Match")
    def match_link(self, obj: MatchAnalysis) -> str:
        url = reverse("admin:matches_match_change", args=[obj.match_id])
        return format_html('<a class="match-link" href="{}">{}</a>', url, obj.match)

    def has_change_permission(self, request, obj=None) -> bool:
        # Analysis lineage: a version is never edited; newer facts make a new version.
        return False
