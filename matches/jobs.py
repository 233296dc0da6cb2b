"""RQ jobs of the matches app: thin, take ids, re-read the database, call one service."""

import logging
import math
from datetime import datetime

from rq import Retry, get_current_job

from matches.api_football import SourceDown, outage
from matches.services.analysis import ensure_analysis

logger = logging.getLogger(__name__)

# How often an analysis comes back while API-Football is marked down before it fails like any
# other error (and its own retries, if any, take over): with the 10 s mark, about an hour.
SOURCE_DOWN_MAX_WAITS = 360


def analyze_match(match_id: int, as_of: str | None = None, wait_if_source_down: bool = False) -> dict | Retry:
    """Make sure the match has a valid analysis; a second run keeps it and says created False.

    ``as_of`` (ISO 8601): the live pipeline's clock; the analysis is never as of after kickoff.
    ``wait_if_source_down`` (the backfill's analyses): under an RQ worker, while API-Football is
    marked down (``matches.api_football.outage``), give the worker back at once and come back when
    the mark clears (RQ's returned ``Retry``: it does not use up the job's own retries on failure).
    """
    moment = datetime.fromisoformat(as_of) if as_of else None
    job = get_current_job() if wait_if_source_down else None
    if job is None:
        analysis, created = ensure_analysis(match_id=match_id, as_of=moment)
    else:
        try:
            with outage.fail_fast():
                analysis, created = ensure_analysis(match_id=match_id, as_of=moment)
        except SourceDown as exc:
            waits = job.number_of_retries or 0
            if waits >= SOURCE_DOWN_MAX_WAITS:
                raise
            logger.info("API-Football is down: analysis rescheduled", extra={
                "match_id": match_id, "retry_in_s": round(exc.retry_after or 1, 1), "waits": waits + 1})
            return Retry(max=SOURCE_DOWN_MAX_WAITS + 1, interval=max(1, math.ceil(exc.retry_after or 1)))
    return {"match_id": match_id, "created": created, "analysis_id": analysis.pk}
