"""The pipeline's tick every minute and the daily backfill, on RQ's cron: ``python manage.py rqcron config.cron``.

Run exactly one rqcron process (RQ's cron has no lock). The job itself is
idempotent: a second run the same day reuses in-flight chains and creates
nothing that exists. rq 2.x reads the cron string in UTC.
"""

from django.conf import settings
from rq import cron

from backfill.jobs import scheduled_backfill
from pipeline.jobs import scheduled_tick

# The live pipeline: every tick is idempotent, so a slow tick overlapping the next one is safe.
cron.register(
    scheduled_tick,
    queue_name="default",
    cron="* * * * *",
    job_timeout=600,
    result_ttl=3600,
    failure_ttl=7 * 86400,
    name="live-pipeline-tick",
)

cron.register(
    scheduled_backfill,
    queue_name="backfill",
    cron=settings.BACKFILL_CRON,
    kwargs={"days": settings.BACKFILL_CRON_DAYS},
    job_timeout=600,
    result_ttl=7 * 86400,
    failure_ttl=7 * 86400,
    name="daily-retroactive-backfill",
)
