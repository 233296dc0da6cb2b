"""Every benchmark at a tiny size: it runs and its invariants hold (not its timings)."""

from datetime import timedelta

import pytest
from django.db import connection

from bench import cost, faults, gap_detection, gap_world, kickoff_slot, leaderboard, rate_limit, scale_out, throughput
from bench.world import World, max_in_window
from tests.prediction_summary import summary_drift


def _quiet(*_args) -> None:
    """Benchmarks print their figures; the tests only read the returned values."""


@pytest.mark.django_db
def test_gap_detection_is_one_query_at_every_size_and_window():
    rows = gap_detection.run((3000, 6000), windows=(1, 7, 30), repeats=1, warmup=0, vacuum=False, out=_quiet)
    assert len(rows) == 6
    assert {r["queries"] for r in rows} == {1}
    assert all(r["gaps"] > 0 and r["plan"] for r in rows)
    # The naive shape's matches (fewer than N predictions of any model) are gaps of ours too.
    assert all(r["gaps"] >= r["original_gaps"] for r in rows)
    assert summary_drift() == []  # the builder recounts what its replica role kept the triggers from doing


@pytest.mark.django_db
def test_gap_detection_second_world_is_denser_shuffled_and_still_one_query():
    rows = gap_detection.run((8000,), windows=(1, 7, 30), repeats=1, warmup=0, vacuum=False,
                             world=gap_world.DENSE, out=_quiet)
    assert [r["world"] for r in rows] == ["dense"] * 3
    assert {r["queries"] for r in rows} == {1}
    assert all(r["gaps"] >= r["original_gaps"] and r["gaps"] > 0 and r["plan"] for r in rows)
    from matches.models import Match

    by_id = list(Match.objects.order_by("pk").values_list("kickoff_time", flat=True))
    assert by_id != sorted(by_id, reverse=True)  # ids no longer follow kickoff order
    day = Match.objects.filter(kickoff_time__gte=gap_world.NOW - timedelta(days=1, seconds=60)).count()
    assert day == gap_world.DENSE.matches_per_day
    assert summary_drift() == []


@pytest.mark.django_db
def test_leaderboard_bench_times_the_same_season_at_every_size_in_one_query():
    per_season = leaderboard.MATCHES_PER_SEASON * leaderboard.MODELS  # one league
    results = leaderboard.run((per_season, 2 * per_season), repeats=1, warmup=0, vacuum=False, leagues=1, out=_quiet)
    assert [r["predictions"] for r in results] == [per_season, 2 * per_season]
    for r in results:
        assert r["queries"] == 2  # the aggregate and the models' names
        assert r["season_predictions"] == per_season and r["rows"] == leaderboard.MODELS
        assert 0 < r["counted"] < per_season  # retroactive ones left out by default
        assert r["contamination_tested"] == leaderboard.MODELS // 4 and r["flagged"] == 0
    assert summary_drift() == []


def test_max_in_window_counts_the_busiest_sliding_window():
    assert max_in_window([0.0, 0.5, 1.0, 10.0, 10.1, 10.2, 10.9], 1.0) == 4
    assert max_in_window([], 1.0) == 0


def test_utilisation_of_bursts_every_window_plus_margin():
    times = [t + i * 0.001 for t in (0.0, 6.0, 12.0, 18.0) for i in range(10)]
    assert rate_limit.utilisation(times, limit=10, window=5) == pytest.approx(40 / (10 * 23.009 / 5))


@pytest.mark.django_db
def test_predict_and_settle_issue_as_many_queries_for_42_models_as_for_5():
    counts = cost.query_counts((5, 42))
    assert counts["predict_match"][5] == counts["predict_match"][42]
    assert counts["settle_match"][5] == counts["settle_match"][42]


@pytest.mark.django_db
def test_redis_round_trips_per_chain_are_counted(redis_conn):
    trips = cost.round_trips_per_chain(3)
    assert 0 < trips["chain_in_flight"] <= trips["new_chain"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_command_memory_is_measured_in_a_fresh_process(redis_conn):
    memory = cost.command_memory(10)
    assert memory["maxrss_kb"] > 0 and memory["tracemalloc_peak_kb"] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_throughput_world_completes_with_ours_and_the_baseline(redis_conn):
    world = World(matches=3, llm_models=3, llm_latency=0.05, llm_cap=2, api_limit=30, api_window=60, workers=2)
    result = throughput.run(world, out=_quiet)
    for mode in ("ours", "baseline"):
        run = result[mode]
        assert run["finished"] and run["status"] == "succeeded", run
        assert run["check"]["complete"] and run["check"]["settled"] == 3
        assert run["api_requests"] == world.api_requests and run["api_rejected"] == 0
    assert result["figures"]["bound_s"] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_commands_and_two_workers_stay_within_the_api_budget(redis_conn):
    world = World(matches=4, llm_models=0, fixed_models=1, api_limit=3, api_window=2, workers=2)
    result = rate_limit.run(world, out=_quiet)
    assert result["exit_codes"] == [0, 0]
    assert result["max_in_window"] <= world.api_limit
    assert result["rejected"] == 0
    assert result["api_requests"] == world.api_requests


def test_model_grid_covers_every_top_league_season_with_a_warm_up_and_judges_the_target():
    from bench import model_grid

    cells = model_grid.grid_cells()
    assert cells == [(c, s) for c in ("de.1", "en.1", "es.1", "fr.1", "it.1") for s in ("2023-24", "2024-25")]
    lines: list[str] = []
    (report,) = model_grid.run([("en.1", "2024-25")], processes=1, limit=8, out=lines.append)
    assert {m["slug"] for m in report["models"]} >= {"always-2-1", "most-frequent", "dixon-coles", "elo"}
    assert any(line.startswith("en.1 2024-25") for line in lines)
    assert any("target" in line for line in lines)
    fake = {"models": [
        {"slug": "always-2-1", "quota_points_per_match": 1.5, "kicktipp_points_per_match": 1.1},
        {"slug": "most-frequent", "quota_points_per_match": 1.6, "kicktipp_points_per_match": 0.7},
        {"slug": "dixon-coles", "quota_points_per_match": 1.66, "kicktipp_points_per_match": 1.2},
        {"slug": "elo", "quota_points_per_match": 1.64, "kicktipp_points_per_match": 1.3},
    ]}
    assert model_grid.verdict(fake) == {"dixon-coles": True, "elo": False}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_kickoff_slot_stores_every_prediction_once_before_kickoff(redis_conn):
    slot = kickoff_slot.Slot(matches=3, models=3, workers=2, scale=0.01)
    lines: list[str] = []
    figures = kickoff_slot.run(slot, out=lines.append)["figures"]
    assert figures["predictions"] == figures["expected"] == 9
    assert figures["before_kickoff"] == 9 and figures["retroactive"] == 0 and figures["duplicates"] == 0
    assert figures["bound_s"] > 0 and figures["lead_min_s"] > 0
    # Stored by the real clock, after the tick began (a tick given its now would stamp them all at it).
    assert figures["wall_s"] > 0 and figures["lead_min_s"] < slot.lead_minutes * 60 * slot.scale
    assert any("lead time" in line for line in lines) and any(line.startswith("slot wall") for line in lines)


def test_kickoff_slot_bound_is_the_worst_models_share_of_its_draws():
    slot = kickoff_slot.Slot(matches=4, models=2, scale=1.0)
    from tests.fakes.fake_llm import Profile

    profile = Profile(median=slot.median, sigma=slot.sigma, low=slot.low, high=slot.high, seed=slot.seed)
    per_model = [max(sum(d) / 2, max(d)) for d in
                 ([profile.draw(f"bench-llm-{i}", k)[0] for k in range(4)] for i in range(2))]
    assert kickoff_slot.bound(slot)["bound_s"] == pytest.approx(max(per_model))
    assert all(slot.low <= profile.draw("m", k)[0] <= slot.high for k in range(200))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_faults_run_completes_every_item_once_through_errors_an_outage_and_a_killed_worker(redis_conn):
    world = World(matches=4, llm_models=3, llm_latency=0.5, llm_cap=2, api_limit=30, api_window=60, workers=2,
                  predict_max_workers=3)
    fault_plan = faults.Faults(world=world, error_rate=0.2, outage_s=3.0, outage_at_s=0.0, kill_after_s=0.0)
    lines: list[str] = []
    result = faults.run(fault_plan, out=lines.append)
    figures, raw = result["figures"], result["result"]
    assert raw["killed_job"] and raw["killed_job"].startswith("predict-retro-")
    assert figures["items_done"] == figures["items"] == 4 and figures["duplicates"] == 0
    assert raw["check"]["complete"] and raw["check"]["settled"] == 4
    assert any("SIGKILL" in line for line in lines) and any("fault-free bound" in line for line in lines)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_scale_out_runs_each_worker_count_to_completion_and_plots(redis_conn, tmp_path):
    world = World(matches=3, llm_models=2, llm_latency=0.05, llm_cap=2, api_limit=30, api_window=60,
                  predict_max_workers=2)
    lines: list[str] = []
    result = scale_out.run(world, (1, 2), plot_to=tmp_path / "plot.png", out=lines.append)
    assert [r["workers"] for r in result["rows"]] == [1, 2]
    assert all(r["complete"] and r["settled"] == 3 and r["api_rejected"] == 0 for r in result["rows"])
    assert all(r["db_connections_peak"] > 0 for r in result["rows"])
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.django_db
def test_trigger_cost_times_both_ways_and_leaves_the_summary_true():
    result = cost.trigger_cost(models=5, repeats=2)
    assert all(result[f"{step}_{way}_triggers_ms"] > 0 for step in ("insert", "settle") for way in ("with", "without"))
    with connection.cursor() as cursor:  # every trigger is back on ('O': fires in the origin role)
        cursor.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'prediction_summary_%'")
        assert sorted(cursor.fetchall()) == [(f"prediction_summary_{op}", "O")
                                             for op in ("delete", "insert", "truncate", "update")]
    assert summary_drift() == []  # the samples taken with the triggers off were recounted
