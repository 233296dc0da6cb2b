"""The worlds of the gap-detection benchmark, filled with set-based SQL (generate_series), never row by row.

Density is fixed per world and each size adds older matches, so a fixed window
always holds the same matches: a query whose time grows with the table is
scanning more than its window. Two worlds differ in every respect that moves a
plan: density, damage pattern, retired models' rows and physical row order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ACTIVE_MODELS = 42
LEAGUES = 20
TEAMS = 400
SEASONS = 12
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MARKER_TABLE = "bench_gap_world"


@dataclass(frozen=True)
class GapWorld:
    """How a world's tables are filled.

    A match is partial with probability ``recent_damage`` in the last
    ``recent_days`` and 1 in ``old_damage_every`` before; a partial match keeps
    r % 42 predictions. Analyses are missing for 1 in ``recent_no_analysis`` /
    ``old_no_analysis`` matches; 1 finished match in ``unsettled_every`` failed
    settlement. ``retired_models`` of the inactive models predicted 1 match in
    ``retired_share``. ``shuffled``: match ids are unrelated to kickoff, and
    matches and predictions lie on disk in random order, not by kickoff or match.
    """

    name: str = "bench"
    matches_per_day: int = 100
    recent_days: int = 7
    recent_damage: float = 0.3
    old_damage_every: int = 25
    recent_no_analysis: int = 5
    old_no_analysis: int = 50
    unsettled_every: int = 40
    inactive_models: int = 3
    retired_models: int = 1
    retired_share: int = 2
    shuffled: bool = False

    @property
    def predictions_per_match(self) -> float:
        partial = 1 / self.old_damage_every
        return ACTIVE_MODELS * (1 - partial) + 20.5 * partial + self.retired_models / self.retired_share


# Today's bench world (the figures of earlier READMEs), and one built differently in every respect above.
BENCH = GapWorld()
DENSE = GapWorld(
    name="dense", matches_per_day=160, recent_days=3, recent_damage=0.6, old_damage_every=10,
    recent_no_analysis=3, old_no_analysis=20, unsettled_every=15, inactive_models=6, retired_models=6,
    retired_share=3, shuffled=True,
)
WORLDS = {w.name: w for w in (BENCH, DENSE)}

# A deterministic per-match pseudo-random number 0..999 ("r") from its id.
_R = "mod(m.id * 2654435761, 1000)"
_COPRIMES = (7919, 104729, 1299709, 15485863)


def _sql(w: GapWorld) -> dict[str, str]:
    """The world's damage as SQL over ``m`` (a match), with %(recent)s and %(live)s bound."""
    recent = "m.kickoff_time >= %(recent)s"
    damaged = (f"(CASE WHEN {recent} THEN {_R} < {round(w.recent_damage * 1000)} "
               f"ELSE mod({_R}, {w.old_damage_every}) = 0 END)")
    return {
        "n_predictions": f"(CASE WHEN {damaged} THEN mod({_R}, {ACTIVE_MODELS}) ELSE {ACTIVE_MODELS} END)",
        "has_analysis": (f"(CASE WHEN {recent} THEN mod({_R}, {w.recent_no_analysis}) <> 1 "
                         f"ELSE mod({_R}, {w.old_no_analysis}) <> 1 END)"),
        "status": (f"(CASE WHEN m.kickoff_time >= %(live)s THEN 'live' WHEN mod({_R}, 100) = 7 THEN 'cancelled' "
                   f"WHEN mod({_R}, 100) = 8 THEN 'postponed' ELSE 'finished' END)"),
        "retired": f"(k > {ACTIVE_MODELS} AND mod(m.id, {w.retired_share}) = 0)",
    }


def _execute(sql: str, params: tuple | dict = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _scalar(sql: str):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def reset(world: GapWorld = BENCH) -> None:
    """Empty the project's tables (the benchmark's own database, or a test's) and add the lineup."""
    from bench.world import reset_tables

    reset_tables()
    _execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")
    _execute(
        "INSERT INTO predictions_predictionmodel (id, slug, name, provider, config, is_active, inactive_reason, "
        "consecutive_failures, last_error, created_at, updated_at) "
        "SELECT k, 'bench-model-' || k, 'Bench model ' || k, 'fixed_score', '{\"home\": 2, \"away\": 1}', "
        f"k <= {ACTIVE_MODELS}, '', 0, '', now(), now() "
        f"FROM generate_series(1, {ACTIVE_MODELS + world.inactive_models}) k"
    )
    _execute(
        "INSERT INTO matches_competition (id, external_id, code, name, country, season, result_rule, "
        "created_at, updated_at) "
        f"SELECT l * {SEASONS} + s + 1, 100 + l, '', 'Bench league ' || l, 'Benchland', {NOW.year} - s, "
        f"'after_90', now(), now() FROM generate_series(0, {LEAGUES - 1}) l, generate_series(0, {SEASONS - 1}) s"
    )
    _execute(
        "INSERT INTO matches_team (id, external_id, name, created_at) "
        f"SELECT t, 50000 + t, 'Bench team ' || t, now() FROM generate_series(1, {TEAMS}) t"
    )


def match_count() -> int:
    return _scalar("SELECT COALESCE(MAX(id), 0) FROM matches_match")


def prediction_count() -> int:
    return _scalar("SELECT COUNT(*) FROM predictions_prediction")


def _position(w: GapWorld, lo: int, hi: int) -> str:
    """Where match ``g`` sits in kickoff order (1 = most recent): ``g`` itself, or a permutation of lo..hi."""
    if not w.shuffled:
        return "g"
    n = hi - lo + 1
    step = next(p for p in _COPRIMES if n % p)
    return f"({lo} + mod((g - {lo}) * {step}::bigint, {n}))"


def _insert_matches(w: GapWorld, lo: int, hi: int, p: dict) -> None:
    mpd = w.matches_per_day
    order = "ORDER BY mod(g * 2654435761 + 12345, 1000003)" if w.shuffled else ""
    _execute(
        "INSERT INTO matches_match (id, external_id, kickoff_time, status, status_code, home_score, away_score, "
        "round, settled_at, created_at, updated_at, competition_id, home_team_id, away_team_id) "
        f"SELECT g, CASE WHEN mod({_R}, 100) = 9 THEN NULL ELSE 10000000 + g END, m.kickoff_time, "
        f"{_sql(w)['status']}, '', mod({_R}, 4), mod({_R} / 4, 3), 'Round', NULL, now(), now(), "
        f"mod(g, {LEAGUES}) * {SEASONS} + LEAST(pos / ({mpd} * 365), {SEASONS - 1}) + 1, "
        f"mod(g, {TEAMS}) + 1, mod(mod(g, {TEAMS}) + 1 + mod(g / {TEAMS}, {TEAMS} - 1), {TEAMS}) + 1 "
        f"FROM generate_series(%(lo)s, %(hi)s) g CROSS JOIN LATERAL (SELECT {_position(w, lo, hi)} AS pos) q "
        f"CROSS JOIN LATERAL (SELECT g AS id, %(now)s - make_interval(secs => q.pos * 86400.0 / {mpd} + 60) "
        f"AS kickoff_time) m {order}",
        p,
    )
    _execute("UPDATE matches_match m SET home_score = NULL, away_score = NULL "
             "WHERE m.id BETWEEN %(lo)s AND %(hi)s AND m.status <> 'finished'", p)


def _insert_predictions(w: GapWorld, p: dict) -> None:
    sql = _sql(w)
    # A match's predictions are written together (one predict_match), so they sit together on disk;
    # in a shuffled world they are scattered over the whole table.
    order = "ORDER BY mod(m.id * 7919 + k * 104729, 1000003)" if w.shuffled else "ORDER BY m.id DESC, k"
    _execute(
        "INSERT INTO predictions_prediction (predicted_home, predicted_away, status, tendency_points, "
        "goal_diff_bonus, exact_score_bonus, total_points, is_retroactive, created_at, scored_at, analysis_id, "
        "prompt_version, match_id, model_id) "
        "SELECT mod(m.id + k, 4), mod(m.id * k, 3), "
        f"CASE WHEN m.status = 'finished' AND mod({_R}, {w.unsettled_every}) <> 1 THEN 'scored' ELSE 'pending' END, "
        "0, 0, 0, 0, false, m.kickoff_time - interval '1 hour', NULL, NULL, 'bench', m.id, k "
        f"FROM matches_match m CROSS JOIN generate_series(1, {ACTIVE_MODELS + w.retired_models}) k "
        f"WHERE m.id BETWEEN %(lo)s AND %(hi)s AND (k <= {sql['n_predictions']} OR {sql['retired']}) {order}",
        p,
    )


def grow_to(predictions: int, world: GapWorld = BENCH) -> dict:
    """Add older matches (match 1 kicks off just before NOW) until about ``predictions`` predictions exist."""
    started = time.perf_counter()
    lo = match_count() + 1
    hi = max(lo - 1, round(predictions / world.predictions_per_match))
    if hi < lo:
        return {"matches_added": 0, "seconds": 0.0}
    mpd = world.matches_per_day
    p = {"now": NOW, "lo": lo, "hi": hi, "recent": NOW - timedelta(days=world.recent_days, seconds=60),
         "live": NOW - timedelta(seconds=15 * 86400 / mpd + 60)}
    _execute("SET session_replication_role = replica")  # skip FK triggers: the generated keys are consistent
    try:
        _insert_matches(world, lo, hi, p)
        _execute(
            "INSERT INTO matches_matchanalysis (as_of, data, created_at, match_id) "
            "SELECT m.kickoff_time, '{}', now(), m.id FROM matches_match m WHERE m.id BETWEEN %(lo)s AND %(hi)s "
            f"AND {_sql(world)['has_analysis']}",
            p,
        )
        _insert_predictions(world, p)
    finally:
        _execute("SET session_replication_role = DEFAULT")
    # The replica role skipped the triggers that keep each match's prediction summary too: recount it here.
    from predictions.services.match_summary import repair_summary

    repair_summary(lo=lo, hi=hi)
    return {"matches_added": hi - lo + 1, "seconds": time.perf_counter() - started}


def analyze_tables(*, vacuum: bool) -> None:
    """Fresh statistics (and a visibility map, for index-only scans) after a bulk load."""
    from django.db import connection

    verb = "VACUUM (ANALYZE)" if vacuum and not connection.in_atomic_block else "ANALYZE"
    for table in ("matches_match", "matches_matchanalysis", "predictions_prediction", "predictions_predictionmodel"):
        _execute(f"{verb} {table}")


def built_size(world: GapWorld) -> int | None:
    """The size this database was last filled to with ``world`` (None: another world, or none)."""
    if _scalar(f"SELECT to_regclass('{MARKER_TABLE}') IS NULL"):
        return None
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT size FROM {MARKER_TABLE} WHERE world = %s", (repr(world),))
        row = cursor.fetchone()
    return row[0] if row else None


def mark_built(world: GapWorld, size: int) -> None:
    """Remember which world (all its parameters) this database holds, so a later run can reuse it."""
    _execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (world text PRIMARY KEY, size bigint NOT NULL)")
    _execute(f"DELETE FROM {MARKER_TABLE}")
    _execute(f"INSERT INTO {MARKER_TABLE} VALUES (%s, %s)", (repr(world), size))
