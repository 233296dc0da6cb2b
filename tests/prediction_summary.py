"""Each match row's prediction summary against the truth (PostgreSQL; predictions migration 0005)."""

from django.db import connection

TRUTH = """
SELECT m.id, m.unsettled_predictions, m.predicted_model_bits,
       (SELECT COUNT(*) FROM predictions_prediction p WHERE p.match_id = m.id AND p.status <> 'scored'),
       (SELECT COALESCE(BIT_OR(1::bigint << (p.model_id - 1)::int), 0) FROM predictions_prediction p
        WHERE p.match_id = m.id AND p.model_id BETWEEN 1 AND 63)
FROM matches_match m ORDER BY m.id
"""


def summary_rows() -> list[tuple[int, int, int, int, int]]:
    """(match, stored count, stored bits, true count, true bits) for every match."""
    with connection.cursor() as cursor:
        cursor.execute(TRUTH)
        return cursor.fetchall()


def summary_drift() -> list[tuple[int, int, int, int, int]]:
    """The rows of ``summary_rows`` whose stored summary differs from the truth."""
    return [row for row in summary_rows() if row[1:3] != row[3:5]]
