"""Check and repair the match rows' prediction summary, which PostgreSQL's triggers keep (migration 0005).

The triggers keep it exact for every writer. Only a bulk load with triggers off (or a hand edit) can
leave it wrong, and a wrong summary hides gaps from the backfill. So operators can check it and repair it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

# One pass over the predictions (grouped), against every match row: the same truth as the triggers'.
_DRIFT_SQL = """
SELECT m.id, m.unsettled_predictions, m.predicted_model_bits, COALESCE(c.n, 0), COALESCE(c.bits, 0)
FROM matches_match m
LEFT JOIN (
    SELECT p.match_id, (COUNT(*) FILTER (WHERE p.status <> 'scored'))::int AS n,
           COALESCE(BIT_OR(1::bigint << (p.model_id - 1)::int) FILTER (WHERE p.model_id BETWEEN 1 AND 63), 0)
               AS bits
    FROM predictions_prediction p GROUP BY p.match_id
) c ON c.match_id = m.id
WHERE (m.unsettled_predictions, m.predicted_model_bits) <> (COALESCE(c.n, 0), COALESCE(c.bits, 0))
ORDER BY m.id
"""


@dataclass(frozen=True)
class SummaryCheck:
    supported: bool
    drifted: int = 0
    # (match id, stored unsettled count, stored bits, true count, true bits), the first few
    examples: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "supported": self.supported,
            "drifted": self.drifted,
            "examples": [
                {"match_id": pk, "unsettled_predictions": n, "predicted_model_bits": bits,
                 "true_unsettled_predictions": true_n, "true_predicted_model_bits": true_bits}
                for pk, n, bits, true_n, true_bits in self.examples
            ],
        }


def summary_supported() -> bool:
    """Only PostgreSQL has the summary; SQLite's gap query reads the predictions themselves."""
    return connection.vendor == "postgresql"


def check_summary(*, examples: int = 10) -> SummaryCheck:
    """Every match row whose summary differs from its predictions (one scan of the predictions)."""
    if not summary_supported():
        return SummaryCheck(supported=False)
    with connection.cursor() as cursor:
        cursor.execute(_DRIFT_SQL)
        rows = cursor.fetchall()
    return SummaryCheck(supported=True, drifted=len(rows), examples=[tuple(r) for r in rows[:examples]])


def repair_summary(*, lo: int | None = None, hi: int | None = None) -> int:
    """Recount the summary of matches lo..hi (default: all; writers wait while it runs), as after a bulk
    load with triggers off; returns the match rows it changed."""
    if not summary_supported():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT predictions_recount_match_summary(%s, %s)", [lo, hi])
        return int(cursor.fetchone()[0])
