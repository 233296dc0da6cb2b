"""The RQ worker class: clean Django DB connections around fork, quick dead-worker recovery.

Run it as ``python manage.py rqworker default backfill --with-scheduler
--worker-class config.worker.DjangoWorker`` (queue order is priority order).
"""

import importlib

from django.conf import settings
from django.db import close_old_connections, connections
from rq.job import Job
from rq.utils import now
from rq.worker import Worker

from config import rq_recovery

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

    def register_birth(self) -> None:
        """Also record what proves this worker's death later: its pid namespace (rq_recovery)."""
        super().register_birth()
        self._record({rq_recovery.PID_NAMESPACE_FIELD: rq_recovery.pid_namespace(), rq_recovery.HORSE_PID_FIELD: ""})

    def _record(self, fields: dict[str, str]) -> None:
        """Fields in this worker's hash; a hash that had expired is not brought back for good."""
        with self.connection.pipeline() as pipe:
            pipe.hset(self.key, mapping=fields).expire(self.key, self.worker_ttl + 60, nx=True).execute()

    def execute_job(self, *args, **kwargs):
        # In the parent, just before fork(): no database socket crosses into the horse.
        connections.close_all()
        # Before the job is registered as started: until the fork names the new horse, none is known.
        self._record({rq_recovery.HORSE_PID_FIELD: ""})
        return super().execute_job(*args, **kwargs)

    def fork_work_horse(self, *args, **kwargs):
        super().fork_work_horse(*args, **kwargs)  # only the parent returns (the horse exits)
        self._record({rq_recovery.HORSE_PID_FIELD: str(self.horse_pid)})

    def _start_scheduler(self, *args, **kwargs):
        """A restarted worker takes the lock of the scheduler that died with its predecessor at once."""
        self.reclaim_from_dead_workers()
        return super()._start_scheduler(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, after reclaiming what proven-dead workers of this host hold."""
        self.reclaim_from_dead_workers()
        super().run_maintenance_tasks()

    def reclaim_from_dead_workers(self) -> None:
        """Free the scheduler locks of dead schedulers and expire the started jobs of dead workers.

        RQ's own maintenance (which runs next) then acquires the freed locks if this worker runs a
        scheduler, and its registry cleanup retries or fails the expired jobs, as it would have done
        after their heartbeats lapsed. Any failure here only leaves things to RQ's TTLs.
        """
        try:
            rq_recovery.release_dead_scheduler_locks(self.connection, self.queue_names(), now=now())
            for queue in self.queues:
                rq_recovery.expire_jobs_of_dead_workers(queue.started_job_registry)
        except Exception:
            self.log.exception("could not check for dead workers; RQ's timeouts will recover them")

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
