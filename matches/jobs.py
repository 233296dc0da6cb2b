"""RQ jobs of the matches app: thin, take ids, re-read the database, call one service."""

from datetime import datetime

from matches.services.analysis import ensure_analysis


def analyze_match(match_id: int, as_of: str | None = None) -> dict:
    """Make sure the match has a valid analysis; a second run keeps it and says created False.

    ``as_of`` (ISO 8601): the live pipeline's clock; the analysis is never as of after kickoff.
    """
    moment = datetime.fromisoformat(as_of) if as_of else None
    analysis, created = ensure_analysis(match_id=match_id, as_of=moment)
    return {"match_id": match_id, "created": created, "analysis_id": analysis.pk}
