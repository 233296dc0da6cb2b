"""The openai_compatible provider, over real HTTP against the fake LLM server."""

import logging
import re
import threading
import time

import pytest
import requests

from matches.models import Match
from predictions.providers.base import MatchContext, PredictionFailed
from predictions.providers.openai_compatible import OpenAICompatiblePredictor, build_prompt, parse_score
from tests.factories import (
    CompetitionFactory,
    LLMPredictionModelFactory,
    MatchAnalysisFactory,
    MatchFactory,
    TeamFactory,
    utc,
)
from tests.fakes.fake_llm import (
    FakeLLMServer,
    error_in_200,
    fenced,
    float_score,
    good,
    http_error,
    malformed,
    out_of_range,
    prose,
    rate_limited,
    server_error,
    slow,
)

KEY = "sk-test-0123456789abcdef"
REMOTE = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
KICKOFF = utc(2025, 2, 8, 15, 0)


@pytest.fixture
def server():
    with FakeLLMServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)


def predictor(server: FakeLLMServer, **config) -> OpenAICompatiblePredictor:
    base = {
        "model": REMOTE, "base_url": server.base_url, "api_key_env": "FAKE_LLM_KEY",
        "timeout": 5, "max_retries": 2, "retry_backoff": 0.01, "retry_backoff_max": 0.05,
    }
    return OpenAICompatiblePredictor(LLMPredictionModelFactory.build(config={**base, **config}))


def context(analysis: dict | None = None) -> MatchContext:
    return MatchContext(
        match_id=1, kickoff_time=KICKOFF, competition="Premier League 2024-25",
        home_team_id=40, home_team="Liverpool", away_team_id=50, away_team="Manchester City",
        analysis=analysis if analysis is not None else {"schema": 1},
    )


def test_good_reply_becomes_a_tip(server):
    server.script(REMOTE, good(3, 1))

    tip = predictor(server).predict(context())

    assert (tip.home, tip.away) == (3, 1)
    assert tip.detail["raw"] == '{"home": 3, "away": 1}'
    assert isinstance(tip.detail["latency_ms"], int)
    assert server.count(REMOTE) == 1


def test_request_names_the_remote_model_and_temperature(server):
    predictor(server, temperature=0.7).predict(context())

    payload = server.requests(REMOTE)[0].payload
    assert payload["model"] == REMOTE
    assert payload["temperature"] == 0.7
    assert [m["role"] for m in payload["messages"]] == ["system", "user"]


def test_code_fenced_json_is_accepted(server):
    server.script(REMOTE, fenced(1, 1))

    tip = predictor(server).predict(context())

    assert (tip.home, tip.away) == (1, 1)


def test_prose_wrapped_json_is_accepted(server):
    server.script(REMOTE, prose(0, 2))

    tip = predictor(server).predict(context())

    assert (tip.home, tip.away) == (0, 2)


def test_malformed_reply_fails_with_the_reason(server):
    server.script(REMOTE, malformed("Liverpool win, probably 2-1."))

    with pytest.raises(PredictionFailed, match="no JSON object"):
        predictor(server).predict(context())
    assert server.count(REMOTE) == 1


def test_out_of_range_reply_fails(server):
    server.script(REMOTE, out_of_range(21, 0))

    with pytest.raises(PredictionFailed, match=r"0\.\.20, got 21"):
        predictor(server).predict(context())


def test_float_reply_fails(server):
    server.script(REMOTE, float_score(2.0, 1.0))

    with pytest.raises(PredictionFailed, match="must be an integer"):
        predictor(server).predict(context())


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ('{"home": "2", "away": 1}', "must be an integer"),
        ('{"home": -1, "away": 1}', "0..20"),
        ('{"home": true, "away": 1}', "must be an integer"),
        ('{"home": 2}', "lacks 'away'"),
        ('{"score": "2-1"}', "lacks 'home' and 'away'"),
        ('First {"home": 1, "away": 0}, or rather {"home": 2, "away": 2}', "conflicting scores"),
        ('{"home": 2, "away": 1, "home": 3}', "repeats 'home': 2 and 3"),
        ("[2, 1]", "no JSON object"),
        ("", "empty reply"),
    ],
)
def test_parse_score_rejects_anything_but_one_integer_score(reply, reason):
    with pytest.raises(PredictionFailed, match=reason):
        parse_score(reply)


def test_parse_score_accepts_a_repeated_identical_object_and_ignores_reasoning_drafts():
    assert parse_score('{"home": 1, "away": 0} ... so: {"home": 1, "away": 0}') == (1, 0)
    assert parse_score('<think>maybe {"home": 3, "away": 3}</think>{"home": 2, "away": 0}') == (2, 0)


def test_slow_reply_times_out_and_fails(server):
    server.script(REMOTE, slow(3), slow(3))

    started = time.monotonic()
    with pytest.raises(PredictionFailed, match="timed out"):
        predictor(server, timeout=0.2, max_retries=1).predict(context())

    assert time.monotonic() - started < 2
    assert server.count(REMOTE) == 2


def test_timeout_is_retried_then_succeeds(server):
    server.script(REMOTE, slow(2), good(2, 2))

    tip = predictor(server, timeout=0.3).predict(context())

    assert (tip.home, tip.away) == (2, 2)
    assert tip.detail["attempts"] == 2


def test_429_is_retried_then_succeeds(server):
    server.script(REMOTE, rate_limited(retry_after=0.01), good(1, 0))

    tip = predictor(server).predict(context())

    assert (tip.home, tip.away) == (1, 0)
    assert server.count(REMOTE) == 2


def test_persistent_500_fails_after_the_retries(server):
    server.script(REMOTE, server_error(), server_error(), server_error(), good())

    with pytest.raises(PredictionFailed, match=r"HTTP 500.*after 3 attempts"):
        predictor(server, max_retries=2).predict(context())
    assert server.count(REMOTE) == 3


def test_error_inside_a_200_fails_without_retry(server):
    server.script(REMOTE, error_in_200("Model is overloaded for your plan", "invalid_request"), good())

    with pytest.raises(PredictionFailed, match="error in reply: Model is overloaded"):
        predictor(server).predict(context())
    assert server.count(REMOTE) == 1


def test_transient_error_inside_a_200_is_retried(server):
    server.script(REMOTE, error_in_200("Upstream provider timed out", 502), good(0, 0))

    tip = predictor(server).predict(context())

    assert (tip.home, tip.away) == (0, 0)
    assert server.count(REMOTE) == 2


def test_auth_failure_is_not_retried_and_the_key_stays_out_of_the_reason(server, monkeypatch):
    wrong_key = "sk-wrong-key-98765"
    monkeypatch.setenv("FAKE_LLM_KEY", wrong_key)

    with pytest.raises(PredictionFailed) as failure:
        predictor(server).predict(context())

    assert "HTTP 401" in str(failure.value)
    assert wrong_key not in str(failure.value)
    assert wrong_key not in repr(failure.value)
    assert failure.value.__cause__ is None
    assert server.count(REMOTE) == 1


def test_the_key_stays_out_of_retry_logs(server, caplog):
    server.script(REMOTE, *[http_error(503, f"overloaded for key {KEY}")] * 3)

    with caplog.at_level(logging.WARNING, logger="predictions"), pytest.raises(PredictionFailed) as failure:
        predictor(server).predict(context())

    assert "overloaded for key ***" in str(failure.value)
    assert caplog.records, "retries are logged"
    assert KEY not in caplog.text
    assert KEY not in str(failure.value)


def test_missing_key_fails_without_a_request(server, monkeypatch):
    monkeypatch.delenv("FAKE_LLM_KEY")

    with pytest.raises(PredictionFailed, match="API key not configured: set FAKE_LLM_KEY"):
        predictor(server).predict(context())
    assert server.count() == 0


def test_local_server_without_a_key_works_when_the_key_is_optional(monkeypatch, settings):
    monkeypatch.delenv("FAKE_LLM_KEY")
    with FakeLLMServer(api_key=None) as local:
        settings.LLM_BASE_URLS = {**settings.LLM_BASE_URLS, "VLLM_BASE_URL": local.base_url}
        local.script("Qwen/Qwen2.5-7B-Instruct", good(1, 2))
        model = LLMPredictionModelFactory.build(
            config={"model": "Qwen/Qwen2.5-7B-Instruct", "base_url_setting": "VLLM_BASE_URL",
                    "api_key_env": "FAKE_LLM_KEY", "api_key_optional": True, "timeout": 5}
        )

        tip = OpenAICompatiblePredictor(model).predict(context())

    assert (tip.home, tip.away) == (1, 2)


def test_unknown_base_url_setting_fails_with_the_reason():
    model = LLMPredictionModelFactory.build(
        config={"model": REMOTE, "base_url_setting": "NOPE_BASE_URL", "api_key_env": "FAKE_LLM_KEY"}
    )

    with pytest.raises(PredictionFailed, match="unknown base_url_setting 'NOPE_BASE_URL'"):
        OpenAICompatiblePredictor(model).predict(context())


def test_connection_refused_is_retried_then_fails():
    with FakeLLMServer() as gone:
        url = gone.base_url
    model = LLMPredictionModelFactory.build(
        config={"model": REMOTE, "base_url": url, "api_key_env": "FAKE_LLM_KEY", "timeout": 1,
                "max_retries": 1, "retry_backoff": 0.01}
    )

    with pytest.raises(PredictionFailed, match=r"connection error.*after 2 attempts"):
        OpenAICompatiblePredictor(model).predict(context())


@pytest.mark.django_db
def test_prompt_has_teams_and_form_but_never_the_match_score(server):
    match = MatchFactory(
        competition=CompetitionFactory(name="Premier League"),  # not "League 170", which holds a "17"
        home_team=TeamFactory(name="Liverpool"), away_team=TeamFactory(name="Manchester City"),
        kickoff_time=KICKOFF, status=Match.Status.FINISHED, status_code="FT", home_score=17, away_score=19,
    )
    MatchAnalysisFactory(match=match, data=schema_one_analysis(match.home_team_id, match.away_team_id))
    match.refresh_from_db()
    match_context = MatchContext(
        match_id=match.pk, kickoff_time=match.kickoff_time, competition=str(match.competition),
        home_team_id=match.home_team_id, home_team=match.home_team.name,
        away_team_id=match.away_team_id, away_team=match.away_team.name, analysis=match.analysis.data,
    )

    predictor(server).predict(match_context)

    prompt = server.requests(REMOTE)[0].prompt
    assert "Liverpool" in prompt
    assert "Manchester City" in prompt
    assert "opponent.name=Bournemouth, goals_for=2, goals_against=0, result=W" in prompt
    assert "opponent.name=Arsenal, goals_for=1, goals_against=5, result=L" in prompt
    assert "team=Liverpool" in prompt
    assert "days=7" in prompt
    assert "home.name=Manchester City, away.name=Liverpool, home_goals=2, away_goals=2" in prompt
    assert not re.search(r"\b17\b", prompt)
    assert not re.search(r"\b19\b", prompt)
    assert "finished" not in prompt.lower()
    assert "RAW-HISTORY-ROW" not in prompt


def schema_one_analysis(home_id: int, away_id: int) -> dict:
    """The shape matches.services.analysis composes (schema 1), with a long raw history."""
    record = {"played": 23, "won": 16, "drawn": 5, "lost": 2, "goals_for": 52, "goals_against": 21, "points": 53}
    return {
        "schema": 1,
        "as_of": KICKOFF.isoformat(),
        "match": {"id": 1, "round": "Regular Season - 24", "kickoff_time": KICKOFF.isoformat()},
        "sources": {"db": 480, "api": 0},
        "form": {
            "home": [{"date": "2025-02-01T15:00:00+00:00", "match_id": 11, "competition": "Premier League",
                      "venue": "away", "opponent": {"id": 3, "name": "Bournemouth"}, "goals_for": 2,
                      "goals_against": 0, "result": "W"}],
            "away": [{"date": "2025-02-02T16:30:00+00:00", "match_id": 12, "competition": "Premier League",
                      "venue": "away", "opponent": {"id": 4, "name": "Arsenal"}, "goals_for": 1,
                      "goals_against": 5, "result": "L"}],
        },
        "rest": {"home": {"date": "2025-02-01T15:00:00+00:00", "days": 7},
                 "away": {"date": "2025-02-02T16:30:00+00:00", "days": 6}},
        "season_record": {"home": {"date": "2025-02-01T15:00:00+00:00", "home": record, "away": record},
                          "away": {"date": "2025-02-02T16:30:00+00:00", "home": record, "away": record}},
        "table": {"date": "2025-02-02T16:30:00+00:00", "matches": 230, "rows": [
            {"team_id": home_id, "team": "Liverpool", **record, "goal_diff": 31, "rank": 1},
            {"team_id": away_id, "team": "Manchester City", **record, "goal_diff": 12, "rank": 4},
        ]},
        "head_to_head": {"date": "2024-12-01T16:00:00+00:00",
                         "summary": {"played": 1, "home_team_wins": 0, "draws": 1, "away_team_wins": 0},
                         "meetings": [{"date": "2024-03-10T15:45:00+00:00", "match_id": 9,
                                       "competition": "Premier League", "season": 2023,
                                       "home": {"id": away_id, "name": "Manchester City"},
                                       "away": {"id": home_id, "name": "Liverpool"},
                                       "home_goals": 2, "away_goals": 2}]},
        "history": [{"date": "2024-08-01T14:00:00+00:00", "home_id": 1, "away_id": 2, "home_goals": 1,
                     "away_goals": 0, "note": "RAW-HISTORY-ROW"}] * 300,
    }


def test_prompt_drops_facts_dated_at_or_after_kickoff():
    prompt = build_prompt(context({
        "head_to_head": [
            {"date": "2024-12-01", "home": "Liverpool", "away": "Manchester City", "home_goals": 2, "away_goals": 0},
            {"date": KICKOFF.isoformat(), "home": "Liverpool", "away": "Manchester City", "home_goals": 9,
             "away_goals": 9},
            {"date": "2025-03-01", "home": "Manchester City", "away": "Liverpool", "home_goals": 8, "away_goals": 8},
        ],
        "rest": {"home": {"date": "2025-02-09T12:00:00+00:00", "days": -1}},
    }))

    assert "home_goals=2" in prompt
    assert "home_goals=9" not in prompt
    assert "home_goals=8" not in prompt
    assert "days=-1" not in prompt


def test_prompt_keeps_the_latest_form_and_the_table_rows_that_matter():
    form = [{"date": f"2025-01-{day:02d}", "goals_for": day, "goals_against": 0} for day in range(1, 21)]
    table = [{"position": i + 1, "team_id": 100 + i, "team": f"Club {i + 1}", "points": 60 - i} for i in range(20)]
    table[14] = {"position": 15, "team_id": 50, "team": "Manchester City", "points": 40}

    prompt = build_prompt(context({"home": {"form": form}, "table": table}))

    assert "goals_for=20" in prompt
    assert "goals_for=14" not in prompt
    assert "team=Club 1," in prompt
    assert "team=Manchester City" in prompt
    assert "team=Club 10," not in prompt
    assert len(prompt) < 3000


def test_fake_caps_concurrency_by_queueing_or_rejecting():
    with FakeLLMServer(api_key=None, latency=0.2, max_concurrency=2, over_capacity="wait") as fake:
        statuses = _concurrent_posts(fake, 5)
        assert statuses == [200] * 5
        assert fake.peak_concurrency("m") == 2
    with FakeLLMServer(api_key=None, latency=0.3, max_concurrency=2, over_capacity="reject") as fake:
        statuses = _concurrent_posts(fake, 5)
        assert sorted(statuses) == [200, 200, 429, 429, 429]


def _concurrent_posts(fake: FakeLLMServer, count: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        response = requests.post(
            f"{fake.base_url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=5,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_kickoff_in_the_prompt_is_the_only_dated_fact_about_the_match_itself():
    prompt = build_prompt(context({"status": "finished", "score": "17-19", "as_of": KICKOFF.isoformat()}))

    assert "finished" not in prompt
    assert "17-19" not in prompt
    assert "Kickoff: 2025-02-08 15:00 UTC" in prompt
