"""The RQ worker class: clean Django DB connections around fork, tunable dead-worker detection.

Run it as ``python manage.py rqworker default backfill --with-scheduler
--worker-class config.worker.DjangoWorker`` (queue order is priority order).
"""

import importlib

from django.conf import settings
from django.db import close_old_connections, connections
from rq.job import Job
from rq.worker import Worker

# Imported once in the worker, before it forks a work horse per job. Left to the horse, every job
# would import them again (the statistical models pull in scipy: 0.75 CPU-seconds per predict job),
# which made CPU, not the external budgets, the backfill's bottleneck. None of them opens a
# connection at import time, so nothing unsafe crosses the fork.
PRELOADED_MODULES = (
    "matches.jobs",
    "matches.api_football.client",
    "predictions.jobs",
    "predictions.providers.registry",
    "predictions.providers.llm",
    "backfill.jobs",
    "backfill.callbacks",
)


def preload_job_modules() -> None:
    for name in PRELOADED_MODULES:
        importlib.import_module(name)


class DjangoWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", settings.RQ_JOB_MONITORING_INTERVAL)
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)
        preload_job_modules()

    @property
    def dequeue_timeout(self) -> int:
        """Idle, RQ blocks ~405 s per dequeue and so skips its maintenance: wake for it instead."""
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))

    def execute_job(self, *args, **kwargs):
        # In the parent, just before fork(): no database socket crosses into the horse.
        connections.close_all()
        return super().execute_job(*args, **kwargs)

    def perform_job(self, *args, **kwargs):
        close_old_connections()
        try:
            return super().perform_job(*args, **kwargs)
        finally:
            connections.close_all()

    def get_heartbeat_ttl(self, job: Job) -> int:
        """RQ hard-codes a 60 s grace after each heartbeat; make it a setting."""
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - self.current_job_working_time, interval)
        return int(interval) + settings.RQ_HEARTBEAT_GRACE_SECONDS
