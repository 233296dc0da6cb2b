"""A summary of each match's predictions on its row, kept by PostgreSQL itself (README, "Gap detection").

Two columns of ``matches_match`` that Django does not know:
- ``unsettled_predictions``: how many of its predictions are not ``scored``;
- ``predicted_model_bits``: bit ``id - 1`` set for each model id 1..63 with a prediction for it (ids
  above 63 are not represented; the gap query then counts from the predictions instead).

The gap query read both from ``predictions_prediction`` for every match of its window: an index scan of
the match's ~42 rows and a probe of ``prediction_unsettled_match_idx``. With them on the match row it
reads the window's matches and nothing else.

Why triggers, and why columns Django does not know:
- every writer keeps them true, whatever it is (the ORM, ``bulk_update``, ``INSERT ... ON CONFLICT``,
  cascades, raw SQL, psql): statement-level triggers with transition tables apply each statement's
  per-match change, one UPDATE per statement;
- the changes commute (a count added; bits of distinct models, unique per match, set or cleared), so
  concurrent writers need no recheck: each UPDATE waits for the match row's lock and applies its change
  to the committed value; a statement locks its match rows in id order, so two such statements, each
  alone in its transaction, cannot deadlock on them (settlement locks its match first anyway);
- the functions pin the search_path they were created with, so a restore that sets its own still finds
  the tables;
- no model field, so ``Match.save()`` never writes back a value it read before a trigger changed it.

PostgreSQL only. SQLite (the embedded default) runs the portable ORM query, which reads the predictions.
``predictions_recount_match_summary(lo, hi)`` recomputes both (a bulk load with triggers off calls it); it
holds writers back while it runs.
"""

from django.db import migrations

INSTALL = r"""
ALTER TABLE matches_match
    ADD COLUMN unsettled_predictions integer NOT NULL DEFAULT 0,
    ADD COLUMN predicted_model_bits bigint NOT NULL DEFAULT 0;

-- Writers wait while it runs (SHARE mode): a prediction committed between its count and its UPDATE of the
-- match row would otherwise be overwritten by the count taken before it.
CREATE OR REPLACE FUNCTION predictions_recount_match_summary(lo bigint DEFAULT NULL, hi bigint DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    changed bigint;
    emptied bigint;
BEGIN
    LOCK TABLE predictions_prediction IN SHARE MODE;
    UPDATE matches_match m SET unsettled_predictions = c.n, predicted_model_bits = c.bits
    FROM (SELECT p.match_id, (COUNT(*) FILTER (WHERE p.status <> 'scored'))::int AS n,
                 COALESCE(BIT_OR(1::bigint << (p.model_id - 1)::int) FILTER (WHERE p.model_id BETWEEN 1 AND 63), 0)
                     AS bits
          FROM predictions_prediction p
          WHERE (lo IS NULL OR p.match_id >= lo) AND (hi IS NULL OR p.match_id <= hi)
          GROUP BY p.match_id) c
    WHERE m.id = c.match_id AND (m.unsettled_predictions, m.predicted_model_bits) <> (c.n, c.bits);
    GET DIAGNOSTICS changed = ROW_COUNT;
    UPDATE matches_match m SET unsettled_predictions = 0, predicted_model_bits = 0
    WHERE (m.unsettled_predictions <> 0 OR m.predicted_model_bits <> 0)
      AND (lo IS NULL OR m.id >= lo) AND (hi IS NULL OR m.id <= hi)
      AND NOT EXISTS (SELECT 1 FROM predictions_prediction p WHERE p.match_id = m.id);
    GET DIAGNOSTICS emptied = ROW_COUNT;
    RETURN changed + emptied;
END $$;

-- Per match of the statement: n (unsettled rows added minus removed), cleared (bits of the rows it had
-- before) and set (bits of the rows it has after); the new bits are (bits & ~cleared) | set.
CREATE OR REPLACE FUNCTION predictions_match_summary_delta() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    ids bigint[];
    deltas int[];
    cleared bigint[];
    set_bits bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(d.match_id ORDER BY d.match_id), array_agg(d.n ORDER BY d.match_id),
               array_agg(0::bigint), array_agg(d.bits ORDER BY d.match_id)
        INTO ids, deltas, cleared, set_bits
        FROM (SELECT r.match_id, (COUNT(*) FILTER (WHERE r.status <> 'scored'))::int AS n,
                     COALESCE(BIT_OR(1::bigint << (r.model_id - 1)::int)
                              FILTER (WHERE r.model_id BETWEEN 1 AND 63), 0) AS bits
              FROM new_rows r GROUP BY r.match_id) d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(d.match_id ORDER BY d.match_id), array_agg(d.n ORDER BY d.match_id),
               array_agg(d.bits ORDER BY d.match_id), array_agg(0::bigint)
        INTO ids, deltas, cleared, set_bits
        FROM (SELECT r.match_id, -(COUNT(*) FILTER (WHERE r.status <> 'scored'))::int AS n,
                     COALESCE(BIT_OR(1::bigint << (r.model_id - 1)::int)
                              FILTER (WHERE r.model_id BETWEEN 1 AND 63), 0) AS bits
              FROM old_rows r GROUP BY r.match_id) d;
    ELSE
        SELECT array_agg(d.match_id ORDER BY d.match_id), array_agg(d.n ORDER BY d.match_id),
               array_agg(d.cleared ORDER BY d.match_id), array_agg(d.set_bits ORDER BY d.match_id)
        INTO ids, deltas, cleared, set_bits
        FROM (SELECT x.match_id, SUM(x.n)::int AS n,
                     COALESCE(BIT_OR(x.bit) FILTER (WHERE x.old), 0) AS cleared,
                     COALESCE(BIT_OR(x.bit) FILTER (WHERE NOT x.old), 0) AS set_bits
              FROM (SELECT r.match_id, (r.status <> 'scored')::int AS n, false AS old,
                           CASE WHEN r.model_id BETWEEN 1 AND 63 THEN 1::bigint << (r.model_id - 1)::int END AS bit
                    FROM new_rows r
                    UNION ALL
                    SELECT r.match_id, -(r.status <> 'scored')::int, true,
                           CASE WHEN r.model_id BETWEEN 1 AND 63 THEN 1::bigint << (r.model_id - 1)::int END
                    FROM old_rows r) x
              GROUP BY x.match_id) d
        WHERE d.n <> 0 OR d.cleared <> d.set_bits;  -- a status change within "not scored" changes nothing
    END IF;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(ids) > 1 THEN  -- in id order: two statements over the same matches cannot deadlock
        PERFORM 1 FROM matches_match m WHERE m.id = ANY (ids) ORDER BY m.id FOR NO KEY UPDATE;
    END IF;
    UPDATE matches_match m
    SET unsettled_predictions = m.unsettled_predictions + d.n,
        predicted_model_bits = (m.predicted_model_bits & ~d.cleared) | d.set_bits
    FROM unnest(ids, deltas, cleared, set_bits) AS d(match_id, n, cleared, set_bits) WHERE m.id = d.match_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION predictions_match_summary_truncate() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE matches_match SET unsettled_predictions = 0, predicted_model_bits = 0
    WHERE unsettled_predictions <> 0 OR predicted_model_bits <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER prediction_summary_insert AFTER INSERT ON predictions_prediction
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION predictions_match_summary_delta();
CREATE TRIGGER prediction_summary_update AFTER UPDATE ON predictions_prediction
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION predictions_match_summary_delta();
CREATE TRIGGER prediction_summary_delete AFTER DELETE ON predictions_prediction
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION predictions_match_summary_delta();
CREATE TRIGGER prediction_summary_truncate AFTER TRUNCATE ON predictions_prediction
    FOR EACH STATEMENT EXECUTE FUNCTION predictions_match_summary_truncate();

SELECT predictions_recount_match_summary();
"""

UNINSTALL = r"""
DROP TRIGGER IF EXISTS prediction_summary_insert ON predictions_prediction;
DROP TRIGGER IF EXISTS prediction_summary_update ON predictions_prediction;
DROP TRIGGER IF EXISTS prediction_summary_delete ON predictions_prediction;
DROP TRIGGER IF EXISTS prediction_summary_truncate ON predictions_prediction;
DROP FUNCTION IF EXISTS predictions_match_summary_delta();
DROP FUNCTION IF EXISTS predictions_match_summary_truncate();
DROP FUNCTION IF EXISTS predictions_recount_match_summary(bigint, bigint);
ALTER TABLE matches_match DROP COLUMN IF EXISTS unsettled_predictions, DROP COLUMN IF EXISTS predicted_model_bits;
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("matches", "0004_result_rule_db_default"),
        ("predictions", "0004_leaderboard_scored_cover_idx"),
    ]

    operations = [migrations.RunPython(_on_postgresql(INSTALL), _on_postgresql(UNINSTALL))]
