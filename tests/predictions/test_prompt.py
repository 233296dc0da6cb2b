"""Issue 16 item 2: a truthful, versioned prompt, and the version stored on every new prediction."""

import pytest

from matches.models import ResultRule
from predictions.models import Prediction, PredictionModel
from predictions.providers.base import MatchContext, PredictionFailed
from predictions.providers.llm import PROMPT_VERSION, build_prompt, build_system_prompt
from predictions.providers.llm.prompt import PROMPTS_DIR
from predictions.services import generate_predictions
from tests.factories import (
    CompetitionFactory,
    LLMPredictionModelFactory,
    MatchAnalysisFactory,
    MatchFactory,
    PredictionModelFactory,
    utc,
)
from tests.fakes.fake_llm import FakeLLMServer, good

KICKOFF = utc(2025, 3, 11, 20, 0)
AFTER_90 = "the score after 90 minutes plus stoppage time; extra time and penalties do not count"


def context(rule: str) -> MatchContext:
    return MatchContext(
        match_id=1, kickoff_time=KICKOFF, competition="UEFA Champions League 2024-25",
        home_team_id=1, home_team="Liverpool", away_team_id=2, away_team="Paris Saint-Germain",
        analysis={"schema": 1}, result_rule=rule,
    )


def assert_states_the_scoring(system: str) -> None:
    assert "from 2 to 6 points" in system
    assert "The fewer of the predictions for this match chose that tendency, the more it is worth" in system
    assert "Right goal difference as well: +1 point" in system
    assert "Exact score: +3 points" in system
    assert "Other models predict the same match" in system
    assert "a rare correct tendency earns more than following the crowd" in system


def test_a_league_match_prompt_states_the_scoring_and_that_90_minutes_count():
    league = context(ResultRule.AFTER_90)

    system, user = build_system_prompt(league), build_prompt(league)

    assert_states_the_scoring(system)
    assert f"The score that counts: {AFTER_90}." in system
    assert f"Score that counts: {AFTER_90}." in user
    assert "extra time when the match goes to extra time" not in system + user


def test_a_knockout_prompt_states_that_extra_time_counts_and_the_shootout_does_not():
    knockout = context(ResultRule.AFTER_EXTRA_TIME)

    system, user = build_system_prompt(knockout), build_prompt(knockout)

    assert_states_the_scoring(system)
    rule = ("the score after extra time when the match goes to extra time, otherwise after 90 minutes plus "
            "stoppage time; a penalty shoot-out does not count")
    assert f"The score that counts: {rule}." in system
    assert rule in user
    assert AFTER_90 not in system + user


def test_a_shootout_rule_says_the_shootout_goals_are_added_after_extra_time():
    system = build_system_prompt(context(ResultRule.WITH_SHOOTOUT))

    assert "the score after extra time with the goals of a penalty shoot-out added to it" in system
    assert "counts as 5-4" in system


def test_every_result_rule_has_a_wording():
    for rule in ResultRule.values:
        assert build_system_prompt(context(rule))
    with pytest.raises(PredictionFailed, match="unknown result rule"):
        build_system_prompt(context("golden_goal"))


def test_the_prompt_lives_in_a_versioned_template_folder():
    assert PROMPT_VERSION == "v2"
    assert (PROMPTS_DIR / PROMPT_VERSION / "system.txt").is_file()
    assert (PROMPTS_DIR / PROMPT_VERSION / "user.txt").is_file()
    with pytest.raises(PredictionFailed, match="has no templates"):
        build_system_prompt(context(ResultRule.AFTER_90), "v999")


@pytest.mark.django_db
def test_the_knockout_rule_reaches_the_llm_and_every_new_prediction_stores_its_version(monkeypatch):
    """Over real HTTP: the competition's rule is in the prompt sent; each model records its version."""
    monkeypatch.setenv("FAKE_LLM_KEY", "k")
    competition = CompetitionFactory(name="UEFA Champions League", code="uefa.cl", result_rule="after_extra_time")
    match = MatchFactory(competition=competition, kickoff_time=KICKOFF)
    MatchAnalysisFactory(match=match, as_of=utc(2025, 3, 11, 14, 0))
    with FakeLLMServer(api_key="k") as server:
        server.script("remote", good(2, 1))
        llm = LLMPredictionModelFactory(
            slug="llm", config={"model": "remote", "base_url": server.base_url, "api_key_env": "FAKE_LLM_KEY"}
        )
        local = {
            provider: PredictionModelFactory(slug=provider, provider=provider, config={})
            for provider in (PredictionModel.Provider.DIXON_COLES, PredictionModel.Provider.ELO,
                             PredictionModel.Provider.FIXED_SCORE, PredictionModel.Provider.MOST_FREQUENT)
        }

        result = generate_predictions(match.pk, allow_retroactive=True)

        sent_system = server.requests("remote")[0].messages[0]["content"]
    assert result.created == 5
    assert "a penalty shoot-out does not count" in sent_system
    versions = dict(Prediction.objects.filter(match=match).values_list("model__slug", "prompt_version"))
    assert versions == {
        llm.slug: "v2",
        local["dixon_coles"].slug: "dixon-coles-3",
        local["elo"].slug: "elo-3",
        local["fixed_score"].slug: "fixed-score-1",
        local["most_frequent"].slug: "most-frequent-1",
    }
