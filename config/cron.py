"""The daily backfill, registered with RQ's cron: ``python manage.py rqcron config.cron``.

Run exactly one rqcron process (RQ's cron has no lock). The job itself is
idempotent: a second run the same day reuses in-flight chains and creates
nothing that exists. rq 2.x reads the cron string in UTC.
"""

from django.conf import settings
from rq import cron

from backfill.jobs import scheduled_backfill

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
