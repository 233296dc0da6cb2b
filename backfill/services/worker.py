"""The in-process runner of the embedded default: a run's open items, stage by stage, in this process.

The admin never runs them inside its request: it starts ``manage.py
backfill_work RUN_ID`` as a detached process (``spawn_worker``). A process,
not a thread: it outlives the request and a restart of the web server, and it
can be killed or inspected by its pid. It beats the run's heartbeat from a
thread of its own, so a slow stage never looks dead, and it reads the run's
status before every stage, so a cancel starts no new work.
"""

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

from backfill import queueing
from backfill.errors import BackfillError
from backfill.models import BackfillItem, BackfillRun
from backfill.services.progress import (
    UNFINISHED,
    close_canceled,
    finalize_runs,
    record_stage_failure,
    record_stage_success,
)

logger = logging.getLogger(__name__)

Stage = BackfillItem.Stage


def _beat(run_id: int) -> None:
    BackfillRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


@contextmanager
def heartbeat(*, run_id: int) -> Iterator[None]:
    """Beat the run's heartbeat every BACKFILL_HEARTBEAT_SECONDS while the block runs."""
    BackfillRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), worker_pid=os.getpid())
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(settings.BACKFILL_HEARTBEAT_SECONDS):
                _beat(run_id)
        except Exception:
            logger.exception("heartbeat stopped", extra={"run_id": run_id})
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=loop, name=f"backfill-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _still_running(run_id: int) -> bool:
    return BackfillRun.objects.filter(pk=run_id, status=BackfillRun.Status.RUNNING).exists()


def _claim(item: BackfillItem, stage: str) -> bool:
    """Mark the item running at ``stage``; False when a cancel closed it first."""
    return bool(
        BackfillItem.objects.filter(pk=item.pk, status__in=UNFINISHED).update(
            stage=stage, status=BackfillItem.Status.RUNNING, updated_at=timezone.now()
        )
    )


def _run_item(item: BackfillItem, clock: datetime | None = None) -> None:
    """Run the item's stages from the one it stands at (an interrupted run resumes mid-chain)."""
    start = Stage.rank(item.stage) if item.stage in Stage.ORDER else len(Stage.ORDER)
    for stage in Stage.in_order(item.stages):
        if Stage.rank(stage) < start:
            continue
        if not _still_running(item.run_id) or not _claim(item, stage):
            return
        kwargs = queueing.stage_kwargs(stage, clock)
        try:
            result = import_string(queueing.STAGE_FUNCTIONS[stage])(item.match_id, **kwargs)
        except Exception as exc:
            record_stage_failure(item.match_id, stage, f"{exc.__class__.__name__}: {exc}", run_id=item.run_id)
            return
        # Every open item of the match, as the RQ callbacks do: a run whose process was killed
        # mid-way is closed by the run that completes its matches, not left 'running' for good.
        record_stage_success(item.match_id, stage, result)


def run_open_items(*, run_id: int, clock: datetime | None = None) -> BackfillRun:
    """Run every open item of the run in kickoff order, beating the heartbeat; stop at a cancel.

    ``clock``: a replayed writer's clock (the chaos demo); None is the real time.
    """
    with heartbeat(run_id=run_id):
        ids = list(
            BackfillItem.objects.filter(run_id=run_id, status__in=UNFINISHED)
            .order_by("match__kickoff_time", "pk").values_list("pk", flat=True)
        )
        for item_id in ids:
            if not _still_running(run_id):
                break
            item = BackfillItem.objects.filter(pk=item_id, status__in=UNFINISHED).first()
            if item is not None:
                _run_item(item, clock)
        # A cancel leaves the item that was running to this loop: nothing else will close it now.
        close_canceled([run_id])
        finalize_runs([run_id])
    logger.info("in-process run ended", extra={"run_id": run_id})
    return BackfillRun.objects.get(pk=run_id)


def spawn_worker(run: BackfillRun) -> int:
    """Start ``manage.py backfill_work RUN_ID`` detached from this process; returns its pid."""
    log_path = settings.BACKFILL_LOG_DIR / f"run-{run.pk}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REDIS_URL": "", "KICKBENCH_DATABASE_NAME": str(settings.DATABASES["default"]["NAME"])}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "backfill_work", str(run.pk)],
            cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap it when it ends, so a long-lived web server collects no zombies.
    threading.Thread(target=proc.wait, name=f"backfill-reaper-{run.pk}", daemon=True).start()
    BackfillRun.objects.filter(pk=run.pk).update(worker_pid=proc.pid, heartbeat_at=timezone.now())
    logger.info("in-process run started in the background", extra={"run_id": run.pk, "pid": proc.pid})
    return proc.pid


def resume_run(run: BackfillRun, *, now: datetime) -> int:
    """Start a new process for an interrupted run's open items; returns how many it will run."""
    if not run.is_interrupted(now=now):
        raise BackfillError(f"run {run.pk} is not interrupted (status {run.status}); only a dead run resumes")
    stale = now - timedelta(seconds=settings.BACKFILL_HEARTBEAT_TIMEOUT)
    # A conditional claim: two operators pressing "resume" at once start one process.
    if not BackfillRun.objects.filter(pk=run.pk, heartbeat_at__lt=stale, status=BackfillRun.Status.RUNNING).update(
        heartbeat_at=now
    ):
        raise BackfillError(f"run {run.pk} was resumed by someone else a moment ago")
    open_items = run.items.filter(status__in=UNFINISHED).count()
    spawn_worker(run)
    return open_items


def close_if_abandoned(run: BackfillRun, *, now: datetime) -> int:
    """A canceled in-process run whose process died leaves the item it was running open: close it."""
    if run.status != BackfillRun.Status.CANCELED or run.heartbeat_at is None:
        return 0
    if (now - run.heartbeat_at).total_seconds() <= settings.BACKFILL_HEARTBEAT_TIMEOUT:
        return 0  # its process may still be finishing the stage; it closes the item itself
    return close_canceled([run.pk])
