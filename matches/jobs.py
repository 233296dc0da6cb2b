"""RQ jobs of the matches app: thin, take ids, re-read the database, call one service."""

from matches.services.analysis import ensure_analysis


def analyze_match(match_id: int) -> dict:
    """Build the pre-kickoff analysis once; a second run keeps the first and says created False."""
    analysis, created = ensure_analysis(match_id=match_id)
    return {"match_id": match_id, "created": created, "analysis_id": analysis.pk}
