"""Where the chaos demo's jobs run, and how a worker is killed in the middle of one.

- Embedded default (no REDIS_URL): the tick runs its jobs in-process. The tick that predicts the
  victim runs in a runner subprocess (``chaos_demo --tick-at``), killed with SIGKILL while its job
  waits for an LLM answer; the pipeline is back only after the victim's kickoff, like a runner
  that a supervisor restarts late.
- With Redis: real RQ workers (``rqworker default backfill``) started here run the jobs; the one
  running the victim's job is killed with its work horse, and a new worker takes over. The killed
  job stays 'started' until the new worker proves its worker dead (config.rq_recovery, within its
  5 s maintenance) and RQ's cleanup gives it up.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rq.registry import DeferredJobRegistry, StartedJobRegistry

from pipeline import queueing as live_queueing

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 120.0


class ChaosFailed(Exception):
    """The demo could not stage its damage (e.g. the job to kill never started)."""


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ChaosFailed(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(0.05)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its children (an RQ work horse runs in a session of its own)."""
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in [proc.pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=30)


class InProcessRunner:
    """The embedded default: jobs run inside the tick; the killed 'worker' is a runner subprocess."""

    mode = "in-process"

    def start(self) -> None:
        """Nothing to start: ticks run their jobs themselves."""

    def stop(self) -> None:
        """Nothing runs between ticks."""

    def settle(self) -> None:
        """In-process jobs are done when the tick returns."""

    def kill_during(self, clock: datetime, started: Callable[[], bool], job_id: str) -> dict:
        """Run the tick at ``clock`` in a subprocess and SIGKILL it once ``started()`` (its job is mid-way)."""
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "chaos_demo", "--tick-at", clock.isoformat()], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        try:
            _wait(lambda: started() or proc.poll() is not None, WAIT_SECONDS, "the runner's job to start")
            if proc.poll() is not None:
                raise ChaosFailed(f"the runner ended before its job was under way: {proc.communicate()[1][-500:]}")
        finally:
            if proc.poll() is None:
                _kill_group(proc)
        return {"process": "runner subprocess (a tick running its jobs in-process)", "pid": proc.pid,
                "signal": "SIGKILL", "exit_code": proc.returncode}

    def release(self, job_id: str) -> None:
        """A killed runner holds nothing: the next tick is a new process."""


class WorkerRunner:
    """Real RQ workers on both queues; ticks and the backfill enqueue, the workers run the jobs."""

    mode = "rq-workers"

    def __init__(self) -> None:
        self.workers: list[subprocess.Popen] = []
        self.serial = 0
        self.abandoned: set[str] = set()  # jobs of a killed worker, 'started' until RQ gives them up

    def _spawn(self) -> subprocess.Popen:
        self.serial += 1
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "backfill", "--with-scheduler", "--name",
             f"chaos-{os.getpid()}-{self.serial}", "--worker-class", "config.worker.DjangoWorker"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def start(self) -> None:
        self._spawn()

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)

    def _busy(self, ignored: set[str]) -> bool:
        queue = live_queueing.get_queue()
        started = set(StartedJobRegistry(queue=queue).get_job_ids()) - ignored
        return bool(queue.count or started or DeferredJobRegistry(queue=queue).count)

    def settle(self) -> None:
        """Wait until the live queue is drained, as a worker that keeps up with the replayed clock."""
        _wait(lambda: not self._busy(self.abandoned), WAIT_SECONDS, "the live jobs to finish")

    def kill_during(self, clock: datetime, started: Callable[[], bool], job_id: str) -> dict:
        """The tick at ``clock`` has enqueued ``job_id``; kill the worker once that job is mid-way."""
        _wait(started, WAIT_SECONDS, "the worker's job to start")
        self.abandoned.add(job_id)
        victim = self.workers[-1]
        _kill_group(victim)
        self._spawn()
        return {"process": "RQ worker and its work horse", "pid": victim.pid, "signal": "SIGKILL",
                "exit_code": victim.returncode}

    def release(self, job_id: str) -> None:
        """Wait for RQ to give up the killed worker's job (its worker proven dead), as any restart would."""
        queue = live_queueing.get_queue()
        registry = StartedJobRegistry(queue=queue)

        def given_up() -> bool:
            registry.cleanup()
            return job_id not in registry.get_job_ids()

        _wait(given_up, 240.0, f"RQ to give up the killed job {job_id}")
        self.abandoned.discard(job_id)


def runner() -> InProcessRunner | WorkerRunner:
    return WorkerRunner() if live_queueing.redis_enabled() else InProcessRunner()
