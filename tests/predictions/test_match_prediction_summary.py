"""Each match's ``unsettled_predictions`` and ``predicted_model_bits`` (kept by PostgreSQL triggers,
migration 0005) equal the truth after every kind of write, concurrent ones included, so the gap query can
read the match rows instead of their predictions."""

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from backfill.selectors import Stage, find_gaps
from predictions.models import Prediction
from predictions.services.settlement import settle_match
from tests.backfill.processes import ROOT, child_env
from tests.factories import MatchFactory, PredictionFactory, PredictionModelFactory
from tests.prediction_summary import summary_drift, summary_rows


def _bits(match) -> set[int]:
    """The model ids the match row's bits say have a prediction."""
    bits = next(row[2] for row in summary_rows() if row[0] == match.pk)
    return {i + 1 for i in range(63) if bits >> i & 1}


def _count(match) -> int:
    return next(row[1] for row in summary_rows() if row[0] == match.pk)


def _sql(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@pytest.fixture
def models():
    """Ids 1, 2 and 70: two the bits hold, one above them (it is counted, never a bit)."""
    made = [PredictionModelFactory(slug=f"m{i}", provider="fixed_score", config={"home": i, "away": 1})
            for i in range(3)]
    for model, pk in zip(made, (1, 2, 70), strict=True):
        type(model).objects.filter(pk=model.pk).update(id=pk)
        model.pk = pk
    return made


@pytest.mark.django_db
def test_the_count_follows_inserts_settlement_resets_moves_and_deletes(models):
    played = MatchFactory(finished=True, home_score=2, away_score=1)
    other = MatchFactory(finished=True, home_score=0, away_score=0)
    for model in models:
        PredictionFactory(match=played, model=model, predicted_home=1, predicted_away=0)
    assert _count(played) == 3 and _bits(played) == {1, 2}

    # A conflicting bulk insert adds nothing (ON CONFLICT DO NOTHING: the transition table is empty).
    Prediction.objects.bulk_create(
        [Prediction(match=played, model=models[0], predicted_home=0, predicted_away=0)], ignore_conflicts=True
    )
    assert _count(played) == 3

    settle_match(played.pk)  # bulk_update to scored
    assert _count(played) == 0 and _bits(played) == {1, 2}
    settle_match(played.pk)  # nothing changes: the count stays
    assert _count(played) == 0

    # Reset after settlement (what settled_at cannot tell): counted again.
    Prediction.objects.filter(match=played, model=models[1]).update(status=Prediction.Status.PENDING)
    assert _count(played) == 1

    # A prediction moved to another match leaves one count and joins the other.
    Prediction.objects.filter(match=played, model=models[1]).update(match=other)
    assert (_count(played), _count(other)) == (0, 1)
    assert (_bits(played), _bits(other)) == ({1}, {2})
    # ... and one given to another model changes the bits, not the count.
    Prediction.objects.filter(match=other, model=models[1]).update(model=models[0])
    assert (_count(other), _bits(other)) == (1, {1})

    Prediction.objects.filter(match=other).delete()
    assert (_count(other), _bits(other)) == (0, set())

    # Raw SQL goes through the same triggers.
    _sql("INSERT INTO predictions_prediction (predicted_home, predicted_away, status, tendency_points, "
         "goal_diff_bonus, exact_score_bonus, total_points, is_retroactive, created_at, prompt_version, "
         "match_id, model_id) VALUES (1, 1, 'pending', 0, 0, 0, 0, false, now(), '', %s, %s), "
         "(2, 2, 'failed', 0, 0, 0, 0, false, now(), '', %s, %s)",
         (other.pk, models[0].pk, other.pk, models[2].pk))
    assert _count(other) == 2 and _bits(other) == {1}
    # A cascade from a deleted match: its predictions go first, the trigger updates a row about to go too.
    doomed = MatchFactory()
    PredictionFactory(match=doomed, model=models[0])
    doomed.delete()
    assert summary_drift() == [] and _count(other) == 2


@pytest.mark.django_db
def test_voided_predictions_count_as_not_scored_like_the_probe_did(models):
    match = MatchFactory(finished=True, home_score=1, away_score=1)
    PredictionFactory(match=match, model=models[0])
    settle_match(match.pk)
    match.status = match.Status.CANCELLED
    match.save()
    settle_match(match.pk)
    assert Prediction.objects.get(match=match).status == Prediction.Status.VOID
    assert _count(match) == 1 and summary_drift() == []


@pytest.mark.django_db
def test_match_save_never_writes_back_a_stale_count(models):
    """Django does not know the column: a match loaded before a trigger changed it saves without it."""
    match = MatchFactory(finished=True, home_score=1, away_score=0)
    stale = type(match).objects.get(pk=match.pk)
    PredictionFactory(match=match, model=models[0])
    stale.round = "Final"
    stale.save()
    assert _count(match) == 1


@pytest.mark.django_db
def test_truncate_and_recount(models):
    match = MatchFactory(finished=True, home_score=1, away_score=0)
    PredictionFactory(match=match, model=models[0])
    _sql("UPDATE matches_match SET unsettled_predictions = 7, predicted_model_bits = 12")  # damage by hand
    with connection.cursor() as cursor:
        cursor.execute("SELECT predictions_recount_match_summary()")
        assert cursor.fetchone()[0] == 1
    assert _count(match) == 1 and _bits(match) == {1}
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred foreign-key checks would block TRUNCATE
    _sql("TRUNCATE predictions_prediction")
    assert _count(match) == 0 and _bits(match) == set() and summary_drift() == []


@pytest.mark.django_db
def test_a_prediction_reset_after_settlement_is_a_settlement_gap_again(models):
    now = timezone.now()
    match = MatchFactory(finished=True, home_score=2, away_score=0, kickoff_time=now - timedelta(hours=3))
    for model in models:
        PredictionFactory(match=match, model=model)
    settle_match(match.pk)
    assert find_gaps(1, now=now) == []
    _sql("UPDATE predictions_prediction SET status = 'pending' WHERE match_id = %s AND model_id = %s",
         (match.pk, models[0].pk))
    [gap] = find_gaps(1, now=now)
    assert (gap.match_id, gap.stages, gap.has_unsettled) == (match.pk, (Stage.SETTLE,), True)


WRITER = textwrap.dedent("""
    import os, random, sys
    import psycopg

    seed, rounds = int(sys.argv[1]), 150
    ids, models = ([int(x) for x in arg.split(",")] for arg in sys.argv[2:4])
    rng = random.Random(seed)
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
        for _ in range(rounds):
            chosen = rng.sample(ids, 3)
            if seed % 2:
                chosen.reverse()  # the other writer walks the same matches the other way round
            kind = rng.choice(("insert", "flip", "delete", "recount"))
            with conn.transaction():
                if kind == "insert":
                    conn.execute(
                        "INSERT INTO predictions_prediction (predicted_home, predicted_away, status, "
                        "tendency_points, goal_diff_bonus, exact_score_bonus, total_points, is_retroactive, "
                        "created_at, prompt_version, match_id, model_id) "
                        "SELECT 1, 0, CASE WHEN random() < 0.5 THEN 'scored' ELSE 'pending' END, 0, 0, 0, 0, "
                        "false, now(), '', m, k FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(m, o), "
                        "unnest(%s::bigint[]) k ORDER BY o ON CONFLICT DO NOTHING",
                        (chosen, models),
                    )
                elif kind == "flip":
                    conn.execute(
                        "UPDATE predictions_prediction p SET status = CASE WHEN p.status = 'scored' "
                        "THEN 'pending' ELSE 'scored' END WHERE p.match_id = ANY(%s) AND random() < 0.5",
                        (chosen,),
                    )
                elif kind == "delete":
                    conn.execute(
                        "DELETE FROM predictions_prediction WHERE match_id = ANY(%s) AND random() < 0.3", (chosen,)
                    )
                else:  # the repair, while the other process writes
                    conn.execute("SELECT predictions_recount_match_summary(%s, %s)", (min(ids), max(ids)))
                conn.execute("SELECT pg_sleep(0.003)")  # the transaction goes on: its match locks stay held
    print("ok")
""")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_processes_writing_the_same_matches_at_once_keep_it_true_without_deadlock(models):
    """Real concurrency: two writers, multi-match statements in opposite orders, 150 transactions each, and
    now and then a recount of every match while the other one writes."""
    matches = [MatchFactory(finished=True, home_score=1, away_score=0) for _ in range(6)]
    ids = ",".join(str(m.pk) for m in matches)
    model_ids = ",".join(str(m.pk) for m in models)
    env = child_env()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(seed), ids, model_ids], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (1, 2)
    ]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert all("deadlock" not in err for _, err in outs)
    assert summary_drift() == []
    rows = summary_rows()
    assert sum(row[1] for row in rows) > 0 and any(row[2] for row in rows)  # something left to count


@pytest.mark.django_db(transaction=True)
def test_a_recount_while_a_writer_is_open_waits_for_it_instead_of_undoing_it(models):
    """The recount's own count must not be older than the match row it writes: it waits for open writers.
    (Without its table lock it would count 1 from its snapshot, wait for the row, and write 1 over 2.)"""
    import threading

    import psycopg

    match = MatchFactory(finished=True, home_score=1, away_score=0)
    PredictionFactory(match=match, model=models[1])
    _sql("UPDATE matches_match SET unsettled_predictions = 7 WHERE id = %s", [match.pk])  # the drift to repair
    url = child_env()["DATABASE_URL"].replace("postgres://", "postgresql://")
    with psycopg.connect(url) as writer, psycopg.connect(url, autocommit=True) as repair:
        writer.execute(
            "INSERT INTO predictions_prediction (predicted_home, predicted_away, status, tendency_points, "
            "goal_diff_bonus, exact_score_bonus, total_points, is_retroactive, created_at, prompt_version, "
            "match_id, model_id) VALUES (1, 0, 'pending', 0, 0, 0, 0, false, now(), '', %s, %s)",
            (match.pk, models[0].pk),
        )  # not committed yet: the match row is locked and counted, the prediction not visible to others
        done = threading.Event()
        thread = threading.Thread(target=lambda: (repair.execute("SELECT predictions_recount_match_summary()"),
                                                  done.set()))
        thread.start()
        assert not done.wait(0.5)  # it waits for the writer
        writer.commit()
        thread.join(10)
        assert done.is_set()
    assert summary_drift() == [] and _count(match) == 2 and _bits(match) == {1, 2}
