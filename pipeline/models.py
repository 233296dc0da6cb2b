"""The pipeline's memory: when it last did each periodic step, so a restart catches up."""

from django.db import models


class PipelineState(models.Model):
    """A single row (pk 1). Every instant here is a tick's ``now``, not the wall clock."""

    last_tick_at = models.DateTimeField(null=True, blank=True)
    last_fixture_sync_at = models.DateTimeField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_stuck_check_at = models.DateTimeField(null=True, blank=True)
    last_report = models.JSONField(default=dict, blank=True)
    # The wall clock of the last tick: staleness is judged by real time, not by a replayed clock.
    ticked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "pipeline state"

    def __str__(self) -> str:
        return f"pipeline, last tick {self.last_tick_at:%Y-%m-%d %H:%M}" if self.last_tick_at else "pipeline, never ran"

    @classmethod
    def load(cls) -> "PipelineState":
        state, _ = cls.objects.get_or_create(pk=1)
        return state


class ReplayResult(models.Model):
    """The real result of a replayed match, kept apart from it until the replayed clock passes its end.

    Nothing in matches or predictions reads this table, so no analysis or model can see a
    score before the match is over; the tick's live step copies it onto the match then.
    """

    match = models.OneToOneField("matches.Match", on_delete=models.CASCADE, related_name="replay_result")
    home_score = models.PositiveSmallIntegerField()
    away_score = models.PositiveSmallIntegerField()
    ends_at = models.DateTimeField(help_text="Kickoff plus the length of a match: the result is known from here")

    def __str__(self) -> str:
        return f"replay of match {self.match_id}, known from {self.ends_at:%Y-%m-%d %H:%M}"


class ReplayOutage(models.Model):
    """A stretch of the replayed clock in which the replay's result source is down (the chaos demo).

    The replay stands in for API-Football; like it, it can be unavailable: live polling then
    reports the source unavailable and sees nothing, and catches up once the stretch is over.
    """

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="replay_outage_ends_after_it_starts")]

    def __str__(self) -> str:
        return f"replay source down {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"
