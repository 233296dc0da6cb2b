"""Waiting for a run: poll, reconcile, and recover jobs of dead workers while nobody else does."""

import time
from collections.abc import Callable

from backfill import queueing
from backfill.models import BackfillRun
from backfill.services.reconcile import refresh_run

RECOVER_EVERY_SECONDS = 15.0


def wait_for_run(
    run: BackfillRun,
    *,
    timeout: float | None = None,
    tick: float = 0.5,
    on_progress: Callable[[BackfillRun], None] | None = None,
) -> bool:
    """Block until every chain of the run finished or failed; False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
    while True:
        if queueing.redis_enabled() and time.monotonic() >= next_recovery:
            # A job whose worker was killed stays 'started' until someone cleans up after the heartbeat
            # expires; the workers do it only every few minutes, and with none running, never.
            queueing.recover_abandoned(queueing.get_queue())
            next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
        refresh_run(run)
        if on_progress:
            on_progress(run)
        if run.is_finished:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(tick)
