"""A record of every backfill run and what happened to each match in it."""

import enum
from datetime import datetime

from django.conf import settings
from django.db import models

RUN_BACKFILL = "run_backfill"
# The one spelling of the permission that gates every way of starting, canceling or watching runs.
RUN_BACKFILL_PERMISSION = f"backfill.{RUN_BACKFILL}"


class BackfillRun(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Finished with errors"
        CANCELED = "canceled", "Canceled"

    triggered_by = models.CharField(max_length=200, help_text="command, cron, or admin:<username>")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    requested_match_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    plan = models.JSONField(default=dict, blank=True, help_text="Skipped matches and the cost estimate")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Beaten by the process that runs an in-process run's items (never set for runs on RQ, whose
    # workers have heartbeats of their own): a stale beat means that process died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [(RUN_BACKFILL, "Can run retroactive backfills")]

    def __str__(self) -> str:
        return f"Backfill run {self.pk} ({self.triggered_by})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELED}

    def is_interrupted(self, *, now: datetime) -> bool:
        """Running in-process, but the process that ran it has stopped beating: it died."""
        if self.status != self.Status.RUNNING or self.heartbeat_at is None:
            return False
        return (now - self.heartbeat_at).total_seconds() > settings.BACKFILL_HEARTBEAT_TIMEOUT

    def status_label(self, *, now: datetime) -> str:
        return "Interrupted" if self.is_interrupted(now=now) else self.get_status_display()


class BackfillItem(models.Model):
    class Stage(models.TextChoices):
        """The chain's stages in their order, then DONE; the one Stage vocabulary of the project."""

        ANALYZE = "analyze", "Analysis"
        PREDICT = "predict", "Predictions"
        SETTLE = "settle", "Settlement"
        DONE = "done", "Done"

        # The chain order of the real stages (DONE is where an item ends, not a stage to run).
        ORDER = enum.nonmember(("analyze", "predict", "settle"))

        @classmethod
        def rank(cls, stage: str) -> int:
            return cls.ORDER.index(stage)

        @classmethod
        def later(cls, stage: str) -> tuple[str, ...]:
            """The stages after ``stage`` in chain order."""
            return cls.ORDER[cls.rank(stage) + 1:]

        @classmethod
        def next_of(cls, stages: "list[str] | tuple[str, ...]", stage: str) -> str:
            """The first of ``stages`` after ``stage`` in chain order, or DONE."""
            later = [s for s in cls.later(stage) if s in stages]
            return later[0] if later else cls.DONE

        @classmethod
        def in_order(cls, stages: "list[str] | tuple[str, ...]") -> list[str]:
            return [s for s in cls.ORDER if s in stages]

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_FLIGHT = "in_flight", "Already in flight"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    run = models.ForeignKey(BackfillRun, on_delete=models.CASCADE, related_name="items")
    match = models.ForeignKey("matches.Match", on_delete=models.CASCADE, related_name="backfill_items")
    stages = models.JSONField(default=list, help_text="The stages this match needed")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    job_ids = models.JSONField(default=dict, blank=True)
    reused = models.BooleanField(default=False, help_text="Its chain was already in flight from an earlier run")
    missing_models = models.PositiveIntegerField(default=0)
    analysis_created = models.BooleanField(default=False)
    predictions_created = models.PositiveIntegerField(default=0)
    settled = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "match__kickoff_time"]
        constraints = [models.UniqueConstraint(fields=["run", "match"], name="uniq_backfill_item_run_match")]

    def __str__(self) -> str:
        return f"Run {self.run_id} / match {self.match_id}: {self.stage} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELED}
