"""Stand-in stage functions for tests of the queueing mechanics (importable by RQ by dotted path)."""

CALLS: list[tuple[str, int]] = []


def ok(match_id: int, **kwargs) -> dict:
    CALLS.append(("ok", match_id))
    return {"match_id": match_id, "created": True}


def boom(match_id: int, **kwargs) -> dict:
    CALLS.append(("boom", match_id))
    raise RuntimeError(f"stage exploded for match {match_id}")
