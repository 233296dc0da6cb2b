"""What happened, and what was known before kickoff."""

from django.db import models
from django.db.models import Q


class ResultRule(models.TextChoices):
    """Which score of a match counts for settlement and is named in the prompt."""

    AFTER_90 = "after_90", "After 90 minutes (regular time plus stoppage)"
    AFTER_EXTRA_TIME = "after_extra_time", "After extra time, without the shoot-out"
    WITH_SHOOTOUT = "with_shootout", "Including the penalty shoot-out"


class Competition(models.Model):
    """One league season (API-Football keys a league by id and a 4-digit start year)."""

    ResultRule = ResultRule

    external_id = models.PositiveIntegerField(null=True, blank=True, help_text="API-Football league id")
    code = models.CharField(max_length=20, blank=True, help_text="openfootball code such as en.1")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=100, blank=True)
    season = models.PositiveSmallIntegerField(help_text="Start year of the season, e.g. 2024 for 2024-25")
    result_rule = models.CharField(
        max_length=20, choices=ResultRule.choices, default=ResultRule.AFTER_90, db_default=ResultRule.AFTER_90,
        help_text="Which score counts: settlement and the prompt read this",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-season", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id", "season"],
                condition=Q(external_id__isnull=False),
                name="uniq_competition_external_season",
            ),
            models.UniqueConstraint(
                fields=["code", "season"], condition=~Q(code=""), name="uniq_competition_code_season"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.season}-{(self.season + 1) % 100:02d}"


class Team(models.Model):
    external_id = models.PositiveIntegerField(unique=True, null=True, blank=True)
    name = models.CharField(max_length=200, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MatchStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    FINISHED = "finished", "Finished"
    POSTPONED = "postponed", "Postponed"
    CANCELLED = "cancelled", "Cancelled"


CALLED_OFF = (MatchStatus.CANCELLED, MatchStatus.POSTPONED)


class MatchQuerySet(models.QuerySet):
    """The one spelling of "called off" (cancelled or postponed): never analysed, predicted or scored."""

    def called_off(self) -> "MatchQuerySet":
        return self.filter(status__in=CALLED_OFF)

    def not_called_off(self) -> "MatchQuerySet":
        return self.exclude(status__in=CALLED_OFF)


class Match(models.Model):
    Status = MatchStatus
    CALLED_OFF = CALLED_OFF

    external_id = models.BigIntegerField(unique=True, null=True, blank=True, help_text="API-Football fixture id")
    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="matches")
    home_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="home_matches")
    away_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="away_matches")
    kickoff_time = models.DateTimeField()
    status = models.CharField(max_length=16, choices=MatchStatus.choices, default=MatchStatus.SCHEDULED)
    status_code = models.CharField(max_length=8, blank=True, help_text="Raw API-Football status.short")
    # The result that counts under the competition's result_rule (what settlement scores against).
    home_score = models.PositiveSmallIntegerField(null=True, blank=True)
    away_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # What the source reported, period by period (null where the source has nothing or it was not played).
    score_90_home = models.PositiveSmallIntegerField(null=True, blank=True, help_text="After regular time")
    score_90_away = models.PositiveSmallIntegerField(null=True, blank=True)
    score_et_home = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="After extra time, cumulative, shoot-out excluded"
    )
    score_et_away = models.PositiveSmallIntegerField(null=True, blank=True)
    score_pen_home = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Shoot-out alone")
    score_pen_away = models.PositiveSmallIntegerField(null=True, blank=True)
    round = models.CharField(max_length=100, blank=True)
    quota_home = models.PositiveSmallIntegerField(null=True, blank=True)
    quota_draw = models.PositiveSmallIntegerField(null=True, blank=True)
    quota_away = models.PositiveSmallIntegerField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MatchQuerySet.as_manager()

    class Meta:
        ordering = ["-kickoff_time"]
        verbose_name_plural = "matches"
        indexes = [
            # The gap query: a kickoff window, a status set, external id present.
            models.Index(
                fields=["kickoff_time", "status"],
                name="match_gap_window_idx",
                condition=Q(external_id__isnull=False),
            ),
            models.Index(fields=["competition", "kickoff_time"], name="match_competition_time_idx"),
            models.Index(fields=["home_team", "kickoff_time"], name="match_home_time_idx"),
            models.Index(fields=["away_team", "kickoff_time"], name="match_away_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(home_team=models.F("away_team")), name="match_distinct_teams"),
        ]

    def __str__(self) -> str:
        score = f" {self.home_score}-{self.away_score}" if self.home_score is not None else ""
        return f"{self.home_team} v {self.away_team}{score} ({self.kickoff_time:%Y-%m-%d})"

    @property
    def has_score(self) -> bool:
        return self.home_score is not None and self.away_score is not None

    @property
    def is_called_off(self) -> bool:
        """Cancelled or postponed: its predictions are void, and it is never analysed or predicted."""
        return self.status in CALLED_OFF

    @property
    def analysis(self) -> "MatchAnalysis | None":
        """The current analysis: the latest version as of no later than kickoff (None if there is none)."""
        return self.analyses.filter(as_of__lte=self.kickoff_time).order_by("-as_of", "-pk").first()


class MatchAnalysis(models.Model):
    """The pre-match context a prediction is made from; every fact in ``data`` predates ``as_of``.

    Versioned: any version with ``as_of <= kickoff_time`` is valid, and a version a prediction
    references is never changed (newer facts make a new row); ``match.analysis`` is the current one.
    """

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="analyses")
    as_of = models.DateTimeField(help_text="The instant the context describes; never after kickoff")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "match analyses"
        indexes = [models.Index(fields=["match", "as_of"], name="analysis_match_as_of_idx")]

    def __str__(self) -> str:
        return f"Analysis of {self.match} as of {self.as_of:%Y-%m-%d %H:%M}"
