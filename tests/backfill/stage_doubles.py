"""Stand-in stage functions for tests of the queueing mechanics (importable by RQ by dotted path)."""

CALLS: list[tuple[str, int]] = []


def ok(match_id: int, **kwargs) -> dict:
    CALLS.append(("ok", match_id))
    return {"match_id": match_id, "created": True}


def boom(match_id: int, **kwargs) -> dict:
    CALLS.append(("boom", match_id))
    raise RuntimeError(f"stage exploded for match {match_id}")


def slow_first_attempt(match_id: int, seconds: float = 0.0, **kwargs) -> dict:
    """Sleeps on its first attempt only (a job to kill a worker in; its retry ends at once)."""
    import time

    from rq import get_current_job

    job = get_current_job()
    if job is not None and job.retries_left:
        time.sleep(seconds)
    return {"match_id": match_id, "created": True}
