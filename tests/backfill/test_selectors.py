"""find_gaps: the window, the threshold from the lineup, the stages, one query."""

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backfill import selectors
from backfill.selectors import find_gaps, find_skipped, gap_rows, gap_sql, portable_gap_rows
from matches.models import Match
from predictions.models import Prediction, PredictionModel
from tests.factories import MatchAnalysisFactory, MatchFactory, PredictionFactory, PredictionModelFactory

pytestmark = pytest.mark.django_db


def _move_model(model: PredictionModel, pk: int) -> None:
    """Give a model (without predictions yet) another id, as a lineup gets after models came and went."""
    PredictionModel.objects.filter(pk=model.pk).update(id=pk)
    model.pk = pk


def _number_models_from(first: int, models: list[PredictionModel]) -> None:
    """Ids first, first + 1, ... and the sequence after them, so the ids the test creates next follow on
    (the suite's earlier tests have moved the sequence on; setval is not rolled back, and need not be)."""
    for offset, model in enumerate(models):
        _move_model(model, first + offset)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('predictions_predictionmodel', 'id'), %s)",
                       [first + len(models) - 1])


@pytest.fixture
def lineup():
    """Three active models with ids 1, 2, 3: the lineup the match rows' bits hold (the stored text)."""
    models = PredictionModelFactory.create_batch(3)
    _number_models_from(1, models)
    return models


@pytest.fixture(params=["stored", "narrow", "wide"])
def shape(request, lineup, monkeypatch):
    """Run a test under each of the gap query's texts: the match rows' bits (active ids within 1..63), the
    lineup as a bitmask over the predictions (ids 101.., spanning at most 63), or (active ids spanning more)
    counted with the retired-id test and the model ids as text. Each is a real lineup: the ids move."""
    monkeypatch.setattr(selectors._LineupShape, "shape", selectors.STORED)
    if request.param == "narrow":
        _number_models_from(101, lineup)
    if request.param == "wide":
        _move_model(lineup[-1], lineup[-1].pk + 100)
    return request.param


def test_match_missing_predictions_is_a_gap_with_its_missing_models(lineup):
    match = MatchFactory(finished=True)
    PredictionFactory(match=match, model=lineup[0])
    (gap,) = find_gaps(7)
    assert gap.match_id == match.pk and gap.prediction_count == 1
    assert gap.missing_model_ids == (lineup[1].pk, lineup[2].pk)
    assert gap.stages == ("analyze", "predict", "settle")


def test_complete_and_settled_match_is_not_a_gap(lineup):
    match = MatchFactory(finished=True)
    for model in lineup:
        PredictionFactory(match=match, model=model, status=Prediction.Status.SCORED)
    assert find_gaps(7) == []


def test_complete_but_unsettled_finished_match_needs_only_settlement(lineup):
    match = MatchFactory(finished=True)
    for model in lineup:
        PredictionFactory(match=match, model=model)
    (gap,) = find_gaps(7)
    assert gap.stages == ("settle",) and gap.missing_model_ids == ()


def test_threshold_is_the_number_of_active_models_not_a_constant(lineup):
    match = MatchFactory()
    for model in lineup:
        PredictionFactory(match=match, model=model)
    assert find_gaps(7) == []
    newcomer = PredictionModelFactory()
    (gap,) = find_gaps(7)
    assert gap.missing_model_ids == (newcomer.pk,)
    newcomer.is_active = False
    newcomer.save()
    lineup[0].is_active = False
    lineup[0].save()
    assert find_gaps(7) == []


def test_predictions_of_inactive_models_do_not_count(lineup):
    match = MatchFactory()
    retired = PredictionModelFactory(is_active=False)
    PredictionFactory(match=match, model=retired)
    (gap,) = find_gaps(7)
    assert gap.prediction_count == 0 and len(gap.missing_model_ids) == 3


def test_window_bounds_and_eligibility(lineup):
    now = timezone.now()
    inside = MatchFactory(kickoff_time=now - timedelta(days=6, hours=23))
    MatchFactory(kickoff_time=now - timedelta(days=7, minutes=1))
    MatchFactory(kickoff_time=now + timedelta(minutes=5))
    MatchFactory(external_id=None)
    MatchFactory(status=Match.Status.CANCELLED)
    live = MatchFactory(status=Match.Status.LIVE)
    assert {g.match_id for g in find_gaps(7, now=now)} == {inside.pk, live.pk}


def test_live_and_scheduled_matches_are_not_settled(lineup):
    MatchAnalysisFactory(match=MatchFactory(status=Match.Status.LIVE))
    gap = find_gaps(7)[0]
    assert gap.stages == ("predict",)


def test_match_ids_restrict_the_search(lineup):
    a, _ = MatchFactory(), MatchFactory()
    assert [g.match_id for g in find_gaps(7, match_ids=[a.pk])] == [a.pk]


def test_cancelled_and_postponed_are_reported_as_skipped_with_reason(lineup):
    cancelled = MatchFactory(status=Match.Status.CANCELLED)
    postponed = MatchFactory(status=Match.Status.POSTPONED)
    skipped = {s.match_id: s.reason for s in find_skipped(7)}
    assert set(skipped) == {cancelled.pk, postponed.pk}
    assert "cancelled" in skipped[cancelled.pk] and "postponed" in skipped[postponed.pk]


def test_gap_detection_is_one_query_whatever_the_number_of_gaps(lineup):
    counts = []
    for n in (1, 30):
        for _ in range(n):
            match = MatchFactory(finished=True)
            PredictionFactory(match=match, model=lineup[0])
        with CaptureQueriesContext(connection) as ctx:
            gaps = find_gaps(7)
        counts.append(len(ctx))
        assert all(len(g.missing_model_ids) == 2 for g in gaps)
    assert counts == [1, 1]


def test_an_analysis_as_of_another_kickoff_counts_as_missing(lineup):
    match = MatchFactory()
    MatchAnalysisFactory(match=match, as_of=match.kickoff_time + timedelta(hours=3))  # the kickoff moved earlier
    (gap,) = find_gaps(7)
    assert gap.has_analysis is False and gap.stages[0] == "analyze"


def test_an_analysis_as_of_before_kickoff_counts_as_present(lineup):
    match = MatchFactory()
    MatchAnalysisFactory(match=match, as_of=match.kickoff_time - timedelta(hours=2))
    (gap,) = find_gaps(7)
    assert gap.has_analysis is True and gap.stages == ("predict",)


def test_postgresql_gap_sql_finds_what_the_portable_query_finds(lineup, shape):
    """The tuned PostgreSQL query and the portable ORM one (SQLite's) agree row for row."""
    retired = PredictionModelFactory(is_active=False)
    now = timezone.now()
    partial = MatchFactory(finished=True, kickoff_time=now - timedelta(days=2))
    PredictionFactory(match=partial, model=lineup[1])
    PredictionFactory(match=partial, model=retired)
    full_with_retired = MatchFactory(finished=True, kickoff_time=now - timedelta(days=3))
    for model in [*lineup, retired]:
        PredictionFactory(match=full_with_retired, model=model, status=Prediction.Status.SCORED)
    unsettled = MatchFactory(finished=True, kickoff_time=now - timedelta(days=4))
    for model in lineup:
        PredictionFactory(match=unsettled, model=model, status=Prediction.Status.SCORED)
    PredictionFactory(match=unsettled, model=retired)  # a retired model's pending row still needs settling
    MatchAnalysisFactory(match=unsettled, as_of=unsettled.kickoff_time - timedelta(hours=1))
    late = MatchFactory(status=Match.Status.LIVE, kickoff_time=now - timedelta(hours=1))
    MatchAnalysisFactory(match=late, as_of=late.kickoff_time + timedelta(minutes=5))
    MatchFactory(status=Match.Status.POSTPONED, kickoff_time=now - timedelta(days=1))
    for ids in (None, [partial.pk, unsettled.pk]):
        tuned = gap_rows(7, now=now, match_ids=ids)
        portable = portable_gap_rows(7, now=now, match_ids=ids)
        assert tuned == portable and tuned
        # The kickoffs come through psycopg's own loader there: the same aware UTC datetimes as the ORM's.
        assert [r[2].tzinfo for r in tuned] == [r[2].tzinfo for r in portable] == [UTC] * len(tuned)
    gaps = {g.match_id: g for g in find_gaps(7, now=now)}
    assert set(gaps) == {partial.pk, unsettled.pk, late.pk}
    assert gaps[partial.pk].prediction_count == 1
    assert gaps[partial.pk].missing_model_ids == (lineup[0].pk, lineup[2].pk)
    assert gaps[unsettled.pk].stages == ("settle",) and gaps[unsettled.pk].has_analysis
    assert gaps[late.pk].has_analysis is False


def test_gap_sql_counts_an_active_model_whose_id_lies_between_retired_ones(lineup, shape):
    """The retired test is a range check first: an active id inside the retired ids' range still counts."""
    first = PredictionModelFactory(is_active=False)
    middle = PredictionModelFactory()
    last = PredictionModelFactory(is_active=False)
    assert first.pk < middle.pk < last.pk
    now = timezone.now()
    complete = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    for model in [*lineup, first, middle, last]:
        PredictionFactory(match=complete, model=model, status=Prediction.Status.SCORED)
    short = MatchFactory(finished=True, kickoff_time=now - timedelta(days=2))
    for model in [*lineup, first, last]:  # five rows, four active models: still a gap
        PredictionFactory(match=short, model=model, status=Prediction.Status.SCORED)
    assert gap_rows(7, now=now) == portable_gap_rows(7, now=now)
    (gap,) = find_gaps(7, now=now)
    assert gap.match_id == short.pk and gap.prediction_count == len(lineup)
    assert gap.missing_model_ids == (middle.pk,) and gap.stages == ("analyze", "predict", "settle")


def test_gap_sql_without_retired_models_counts_every_row(lineup, shape):
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    for model in lineup[:2]:
        PredictionFactory(match=match, model=model, status=Prediction.Status.SCORED)
    assert gap_rows(7, now=now) == portable_gap_rows(7, now=now)
    (gap,) = find_gaps(7, now=now)
    assert gap.prediction_count == 2 and gap.missing_model_ids == (lineup[2].pk,) and not gap.has_unsettled


def test_gap_sql_texts_and_their_parameters():
    """The stored text reads no prediction; the narrow one ORs bits (no per-match arrays); the wide one
    aggregates the ids; two params unless ids."""
    stored, params = gap_sql(1)
    narrow, _ = gap_sql(1, shape=selectors.NARROW)
    wide, _ = gap_sql(30, shape=selectors.WIDE)
    assert "predictions_prediction " not in stored and "m.predicted_model_bits" in stored
    assert "BIT_OR(1::bigint << (p.model_id - l.base)::int)" in narrow and "ARRAY_AGG(p.model_id)" not in narrow
    assert "ARRAY_AGG(p.model_id)" in wide and "BIT_OR" not in wide
    assert set(params) == {"start", "end"}  # statuses are literals; the id filter only when asked for
    with_ids = {"start", "end", "ids"}
    assert {frozenset(gap_sql(30, match_ids=[1], shape=shape)[1]) for shape in ("stored", "narrow", "wide")} == {
        frozenset(with_ids)
    }


def _texts(ctx) -> list[str]:
    def shape(sql: str) -> str:
        if "predicted_model_bits" in sql:
            return "stored"
        return "wide" if "ARRAY_AGG(p.model_id)" in sql else "narrow"

    return [shape(q["sql"]) for q in ctx.captured_queries]


@pytest.mark.parametrize(("top", "shapes"), [(63, ["stored"]), (64, ["stored", "narrow"])])
def test_the_match_rows_bits_serve_while_every_active_id_is_within_1_to_63(lineup, monkeypatch, top, shapes):
    """Model 63 is bit 62, the last one predicted_model_bits holds: one id further and the stored text hands
    over to the narrow one (same rows)."""
    monkeypatch.setattr(selectors._LineupShape, "shape", selectors.STORED)
    _number_models_from(10, lineup)  # 10, 11 and then 63 or 64: a span the narrow text holds either way
    _move_model(lineup[-1], top)
    retired_far = PredictionModelFactory(is_active=False, id=200)  # not in the bits, and not needed there
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    for model in (lineup[-1], retired_far):
        PredictionFactory(match=match, model=model)
    complete = MatchFactory(finished=True, kickoff_time=now - timedelta(days=2))
    for model in lineup:
        PredictionFactory(match=complete, model=model, status=Prediction.Status.SCORED)
    with CaptureQueriesContext(connection) as ctx:
        rows = gap_rows(7, now=now)
    assert _texts(ctx) == shapes
    assert rows == portable_gap_rows(7, now=now)
    assert [r[0] for r in rows] == [match.pk] and rows[0][7:9] == (1, (lineup[0].pk, lineup[1].pk))


def test_an_active_model_with_id_0_is_counted_from_the_predictions_not_the_bits(lineup, monkeypatch):
    """The bits start at id 1: a lineup with id 0 (an explicit key) does not fit them, now or next time."""
    monkeypatch.setattr(selectors._LineupShape, "shape", selectors.STORED)
    _move_model(lineup[0], 0)
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    for model in lineup[1:]:
        PredictionFactory(match=match, model=model)
    for expected in (["stored", "narrow"], ["narrow"]):
        with CaptureQueriesContext(connection) as ctx:
            rows = gap_rows(7, now=now)
        assert _texts(ctx) == expected
        assert rows == portable_gap_rows(7, now=now)
        assert rows[0][7:9] == (2, (0,))


def test_a_lineup_the_bits_cannot_hold_costs_one_row_not_the_window(lineup, monkeypatch):
    """The stored text's answer for a lineup above 63 is one marker row, whatever the window holds."""
    _move_model(lineup[-1], 64)
    now = timezone.now()
    for day in range(5):
        MatchFactory(finished=True, kickoff_time=now - timedelta(days=day, hours=1))
    with connection.cursor() as cursor:
        cursor.execute(*gap_sql(7, now=now))
        rows = cursor.fetchall()
    assert rows == [(None,) * 8 + (3, 1, False)]


@pytest.mark.parametrize(("offset", "shapes"), [(62, ["stored", "narrow"]), (63, ["stored", "narrow", "wide"])])
def test_the_lineup_is_narrow_while_its_active_ids_fit_in_63_bits(lineup, monkeypatch, offset, shapes):
    """Bit 62 is the last one the mask holds: one id further and the narrow text hands over to the wide one."""
    monkeypatch.setattr(selectors._LineupShape, "shape", selectors.STORED)
    _number_models_from(101, lineup)  # above the match rows' 63 bits: counted from the predictions
    _move_model(lineup[-1], lineup[0].pk + offset)
    # Outside the mask, filtered out: unfiltered, its shift of 64 would wrap onto lineup[0]'s bit.
    retired_far = PredictionModelFactory(is_active=False, id=lineup[0].pk + 64)
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    for model in (lineup[-1], retired_far):
        PredictionFactory(match=match, model=model)
    with CaptureQueriesContext(connection) as ctx:
        rows = gap_rows(7, now=now)
    assert _texts(ctx) == shapes
    assert rows == portable_gap_rows(7, now=now)
    assert rows[0][7:9] == (1, (lineup[0].pk, lineup[1].pk))


def test_a_wide_lineup_costs_more_queries_once_and_stored_again_when_it_fits(lineup, monkeypatch):
    monkeypatch.setattr(selectors._LineupShape, "shape", selectors.STORED)
    _move_model(lineup[-1], lineup[0].pk + 100)
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    PredictionFactory(match=match, model=lineup[0])
    shapes = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            (gap,) = find_gaps(7, now=now)
        shapes.append(_texts(ctx))
        assert gap.missing_model_ids == (lineup[1].pk, lineup[-1].pk) and gap.prediction_count == 1
    PredictionModel.objects.filter(pk=lineup[-1].pk).update(is_active=False)  # retired: the lineup fits again
    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            (gap,) = find_gaps(7, now=now)
        shapes.append(_texts(ctx))
        assert gap.missing_model_ids == (lineup[1].pk,) and gap.prediction_count == 1
    assert shapes == [["stored", "narrow", "wide"], ["wide"], ["wide"], ["narrow"], ["stored"]]


def test_without_active_models_a_finished_match_still_needs_settling(lineup, shape):
    """No lineup (every model retired): nothing is missing, but pending rows of a finished match are settled."""
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    PredictionFactory(match=match, model=lineup[0])
    settled = MatchFactory(finished=True, kickoff_time=now - timedelta(days=2))
    PredictionFactory(match=settled, model=lineup[1], status=Prediction.Status.SCORED)
    PredictionModel.objects.update(is_active=False)
    assert gap_rows(7, now=now) == portable_gap_rows(7, now=now)
    (gap,) = find_gaps(7, now=now)
    assert gap.match_id == match.pk and gap.missing_model_ids == () and gap.stages == ("settle",)


def test_a_match_missing_models_is_settled_after_them_without_the_unsettled_probe(lineup, shape):
    """Pending rows of a match that misses models: not looked up (has_unsettled False), settle still planned."""
    now = timezone.now()
    match = MatchFactory(finished=True, kickoff_time=now - timedelta(days=1))
    PredictionFactory(match=match, model=lineup[0], status=Prediction.Status.PENDING)
    assert gap_rows(7, now=now) == portable_gap_rows(7, now=now)
    (gap,) = find_gaps(7, now=now)
    assert gap.has_unsettled is False and gap.missing_model_ids == (lineup[1].pk, lineup[2].pk)
    assert gap.stages == ("analyze", "predict", "settle")
