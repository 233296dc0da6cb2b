"""Run a function in several threads released at the same instant (each thread has its own DB connection)."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_at_once(func: Callable[[], T], times: int = 2) -> list[T]:
    """Call ``func`` ``times`` times concurrently; re-raise the first error a thread hit."""
    barrier = threading.Barrier(times)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(func())
        except BaseException as exc:  # a thread cannot raise into the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
