"""What a SIGKILLed RQ worker leaves behind, reclaimed as soon as its death is proven.

RQ waits out time-to-live values: a dead scheduler's lock (``rq:scheduler-lock:<queue>``) lives on
for 61 s, a dead worker's job stays 'started' until its heartbeat lapses (90 s here). Retries and
recovery wait that long. A process on this host can be proven dead instead: its pid names no process
in our pid namespace. Only then is its lock deleted (compare-and-delete: it must still hold the dead
holder's name) or its job's started entry expired for RQ's own cleanup; anything not proven dead on
this host (another machine, another pid namespace, an older worker class) is left to RQ's TTLs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime

from redis import Redis
from rq.registry import StartedJobRegistry
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import parse_composite_key, utcparse
from rq.worker import Worker

logger = logging.getLogger(__name__)

# A scheduler beats every second; one silent for this long, with its pid gone, is dead. The silence
# also guards against a live scheduler of the same host name in another pid namespace (containers
# with the host's network), whose pid means nothing here.
SCHEDULER_SILENT_SECONDS = 5
# Fields DjangoWorker adds to its worker hash, so that its death can be proven.
PID_NAMESPACE_FIELD = "pid_namespace"
HORSE_PID_FIELD = "horse_pid"


def pid_namespace() -> str:
    """This process's pid namespace (Linux); pids are only comparable within one."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "none"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def dead_scheduler(connection: Redis, queue_name: str, *, now: datetime) -> str | None:
    """The name of the scheduler holding the queue's lock if it is proven dead, else None."""
    holder = _text(connection.get(RQScheduler.get_locking_key(queue_name)))
    if not holder:
        return None
    # Missing: the holder has not forked its scheduler yet, or the hash expired with the lock.
    data = {_text(k): _text(v) for k, v in connection.hgetall(SCHEDULER_KEY_TEMPLATE % holder).items()}
    if not data or data.get("hostname") != socket.gethostname() or not data.get("pid", "").isdigit():
        return None
    beat = data.get("last_heartbeat")
    if not beat or (now - utcparse(beat)).total_seconds() < SCHEDULER_SILENT_SECONDS:
        return None
    return None if pid_alive(int(data["pid"])) else holder


def release_dead_scheduler_locks(connection: Redis, queue_names: Iterable[str], *, now: datetime) -> list[str]:
    """Delete the scheduler locks whose holder is proven dead; the caller's scheduler may then take them."""
    released = []
    for name in queue_names:
        holder = dead_scheduler(connection, name, now=now)
        # Compare-and-delete: a lock that changed hands since the read is left alone.
        if holder and release_lock(connection, RQScheduler.get_locking_key(name), holder):
            logger.warning("released the scheduler lock of %s: its scheduler %s is dead", name, holder)
            released.append(name)
    return released


def worker_dead(connection: Redis, worker_name: str) -> bool:
    """A DjangoWorker of this host and pid namespace whose process and work horse are both gone."""
    key = Worker.redis_worker_namespace_prefix + worker_name
    hostname, pid, namespace, horse = map(_text, connection.hmget(
        key, ["hostname", "pid", PID_NAMESPACE_FIELD, HORSE_PID_FIELD]))
    if hostname != socket.gethostname() or namespace != pid_namespace() or not pid.isdigit():
        return False
    # The horse's pid is blanked before each fork: blank means a horse may run that we cannot name.
    if not horse.isdigit() or pid_alive(int(horse)):
        return False
    return not pid_alive(int(pid))


def expire_jobs_of_dead_workers(registry: StartedJobRegistry) -> list[str]:
    """Mark the started jobs of proven-dead workers as expired: RQ's next cleanup retries or fails them.

    Returns the job ids. The entry's score (its heartbeat deadline) is set to 0 only if the entry
    still exists (ZADD XX), so a job finished in the meantime is not brought back.
    """
    conn = registry.connection
    expired, verdicts = [], {}
    for entry in map(_text, conn.zrange(registry.key, 0, -1)):
        job_id, _ = parse_composite_key(entry)
        worker_name = _text(conn.hget(f"rq:execution:{entry}", "worker_name"))
        if not worker_name:
            continue
        if worker_name not in verdicts:
            verdicts[worker_name] = worker_dead(conn, worker_name)
        if verdicts[worker_name] and conn.zadd(registry.key, {entry: 0}, xx=True, ch=True):
            logger.warning("job %s was started by worker %s, which is dead: recovering it now", job_id, worker_name)
            expired.append(job_id)
    for worker_name in (name for name, dead in verdicts.items() if dead):
        _unregister(conn, worker_name)
    return expired


def _unregister(connection: Redis, worker_name: str) -> None:
    """Stop counting a dead worker as serving (RQ would keep it listed until its key expires)."""
    with contextlib.suppress(Exception):
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=connection)
        if worker is not None:
            worker.register_death()
