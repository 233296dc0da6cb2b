"""Who predicted what, and how it scored."""

from django.db import models
from django.db.models import Q

MAX_GOALS = 20


class PredictionModel(models.Model):
    """One entry of the lineup; the number of active ones is the gap threshold."""

    class Provider(models.TextChoices):
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible LLM"
        DIXON_COLES = "dixon_coles", "Dixon-Coles goals model"
        ELO = "elo", "Elo ratings"
        FIXED_SCORE = "fixed_score", "Fixed score baseline"
        MOST_FREQUENT = "most_frequent", "Most frequent scoreline baseline"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=32, choices=Provider.choices)
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, db_index=True)
    inactive_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Prediction(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SCORED = "scored", "Scored"
        VOID = "void", "Void"

    # Indexed by prediction_match_cover_idx below (a plain match_id index would be redundant).
    match = models.ForeignKey("matches.Match", on_delete=models.CASCADE, related_name="predictions", db_index=False)
    model = models.ForeignKey(PredictionModel, on_delete=models.PROTECT, related_name="predictions")
    analysis = models.ForeignKey(
        "matches.MatchAnalysis",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predictions",
        help_text="The pre-match context this prediction was made from",
    )
    predicted_home = models.PositiveSmallIntegerField()
    predicted_away = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    tendency_points = models.PositiveSmallIntegerField(default=0)
    goal_diff_bonus = models.PositiveSmallIntegerField(default=0)
    exact_score_bonus = models.PositiveSmallIntegerField(default=0)
    total_points = models.PositiveSmallIntegerField(default=0)
    is_retroactive = models.BooleanField(default=False, help_text="Made at or after kickoff")
    prompt_version = models.CharField(
        max_length=40, blank=True, db_index=True,
        help_text="The prompt template (LLMs) or model version (statistical) that produced it; "
        "rows from before versioning are 'legacy'",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["match", "model"]
        constraints = [
            models.UniqueConstraint(fields=["match", "model"], name="uniq_prediction_match_model"),
            models.CheckConstraint(
                condition=Q(predicted_home__gte=0, predicted_home__lte=MAX_GOALS)
                & Q(predicted_away__gte=0, predicted_away__lte=MAX_GOALS),
                name="prediction_goals_0_20",
            ),
        ]
        indexes = [
            models.Index(fields=["model", "status"], name="prediction_model_status_idx"),
            # The gap query counts a match's predictions from the index alone (no heap visit per row), so
            # PostgreSQL keeps to the kickoff-window index instead of a parallel scan of every match.
            models.Index(fields=["match"], include=["model", "id"], name="prediction_match_cover_idx"),
            # The gap query's "settlement failed" probe: only the few unsettled rows, not every prediction.
            models.Index(fields=["match"], name="prediction_unsettled_match_idx", condition=~Q(status="scored")),
            # The leaderboard reads a scope's settled predictions from the index alone (index-only scan per match).
            models.Index(
                fields=["match"], include=["model", "is_retroactive", "total_points", "tendency_points",
                                           "exact_score_bonus"],
                name="prediction_scored_cover_idx", condition=Q(status="scored"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.predicted_home}-{self.predicted_away} ({self.match_id})"
