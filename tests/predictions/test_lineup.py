"""The lineup file, sync_lineup and the sync_models command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.utils import timezone

from predictions.models import PredictionModel
from predictions.services.health import reenable_models
from predictions.services.lineup import (
    DEFAULT_LINEUP_PATH,
    DISABLED_REASON,
    REMOVED_REASON,
    LineupError,
    load_lineup,
    sync_lineup,
)
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db

LLM = """
[[models]]
slug = "llama"
name = "Llama on Together"
provider = "openai_compatible"
[models.config]
model = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
base_url_setting = "TOGETHER_BASE_URL"
api_key_env = "TOGETHER_API_KEY"
"""
STATS = """
[[models]]
slug = "always-2-1"
name = "Always 2-1"
provider = "fixed_score"
config = { home = 2, away = 1 }

[[models]]
slug = "elo"
name = "Elo"
provider = "elo"
"""


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    """Every test states which keys exist; none leak in from the developer's environment."""
    monkeypatch.setenv("TOGETHER_API_KEY", "together-key")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)


def lineup(tmp_path, text: str):
    path = tmp_path / "lineup.toml"
    path.write_text(text)
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("sync_models", *args, stdout=out)
    return out.getvalue()


def test_the_shipped_lineup_is_valid_and_holds_the_statistical_models():
    entries = {entry.slug: entry for entry in load_lineup()}

    assert {"dixon-coles", "elo", "always-2-1", "most-frequent"} <= set(entries)
    assert entries["always-2-1"].config == {"home": 2, "away": 1}
    assert entries["dixon-coles"].provider == "dixon_coles"
    assert entries["most-frequent"].provider == "most_frequent"
    llms = [entry for entry in entries.values() if entry.provider == "openai_compatible"]
    assert len(llms) >= 6
    assert {entry.config.get("base_url_setting") for entry in llms} >= {"TOGETHER_BASE_URL", "OPENROUTER_BASE_URL"}


def test_sync_creates_every_entry(tmp_path):
    result = sync_lineup(lineup(tmp_path, LLM + STATS))

    assert result.created == ["llama", "always-2-1", "elo"]
    assert PredictionModel.objects.filter(is_active=True).count() == 3
    llama = PredictionModel.objects.get(slug="llama")
    assert llama.provider == PredictionModel.Provider.OPENAI_COMPATIBLE
    assert llama.config["model"] == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert PredictionModel.objects.get(slug="always-2-1").config == {"home": 2, "away": 1}


def test_second_sync_changes_nothing_and_says_so():
    first = run()
    stamps = dict(PredictionModel.objects.values_list("slug", "updated_at"))

    second = run()

    assert "created" in first
    assert "Nothing changed" in second
    assert "created" not in second and "updated " not in second
    assert dict(PredictionModel.objects.values_list("slug", "updated_at")) == stamps


def test_missing_key_makes_an_llm_inactive_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY")

    result = sync_lineup(lineup(tmp_path, LLM + STATS))

    llama = PredictionModel.objects.get(slug="llama")
    assert not llama.is_active
    assert llama.inactive_reason == "API key not configured: set TOGETHER_API_KEY"
    assert result.inactive == {"llama": "API key not configured: set TOGETHER_API_KEY"}
    assert result.active_count == 2


def test_empty_key_counts_as_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "  ")

    sync_lineup(lineup(tmp_path, LLM))

    assert not PredictionModel.objects.get(slug="llama").is_active


def test_key_appearing_reactivates_the_model(tmp_path, monkeypatch):
    path = lineup(tmp_path, LLM)
    monkeypatch.delenv("TOGETHER_API_KEY")
    sync_lineup(path)
    monkeypatch.setenv("TOGETHER_API_KEY", "together-key")

    result = sync_lineup(path)

    llama = PredictionModel.objects.get(slug="llama")
    assert (llama.is_active, llama.inactive_reason) == (True, "")
    assert result.activated == ["llama"]


def test_key_disappearing_deactivates_the_model(tmp_path, monkeypatch):
    path = lineup(tmp_path, LLM)
    sync_lineup(path)
    monkeypatch.delenv("TOGETHER_API_KEY")

    result = sync_lineup(path)

    assert result.deactivated == {"llama": "API key not configured: set TOGETHER_API_KEY"}


def test_sync_never_reactivates_a_model_the_circuit_breaker_disabled(tmp_path):
    path = lineup(tmp_path, LLM)
    sync_lineup(path)
    PredictionModel.objects.filter(slug="llama").update(
        is_active=False, disabled_at=timezone.now(), inactive_reason="circuit breaker: 5 consecutive failures"
    )

    result = sync_lineup(path)

    llama = PredictionModel.objects.get(slug="llama")
    assert not llama.is_active
    assert llama.inactive_reason == "circuit breaker: 5 consecutive failures"
    assert not result.changed
    assert result.inactive == {"llama": "circuit breaker: 5 consecutive failures"}


def test_after_an_admin_reenable_the_sync_applies_the_file_again(tmp_path, monkeypatch):
    path = lineup(tmp_path, LLM)
    sync_lineup(path)
    PredictionModel.objects.filter(slug="llama").update(is_active=False, disabled_at=timezone.now())
    reenable_models(PredictionModel.objects.filter(slug="llama"))
    monkeypatch.delenv("TOGETHER_API_KEY")

    sync_lineup(path)

    assert PredictionModel.objects.get(slug="llama").inactive_reason.startswith("API key not configured")


def test_a_model_switched_off_by_hand_stays_off(tmp_path):
    path = lineup(tmp_path, STATS)
    sync_lineup(path)
    PredictionModel.objects.filter(slug="elo").update(is_active=False, inactive_reason="paused while we recalibrate")

    result = sync_lineup(path)

    assert not PredictionModel.objects.get(slug="elo").is_active
    assert not result.changed


def test_removed_entry_is_deactivated_not_deleted(tmp_path):
    sync_lineup(lineup(tmp_path, LLM + STATS))
    PredictionFactory(model=PredictionModel.objects.get(slug="elo"))

    result = sync_lineup(lineup(tmp_path, LLM))

    elo = PredictionModel.objects.get(slug="elo")
    assert (elo.is_active, elo.inactive_reason) == (False, REMOVED_REASON)
    assert result.deactivated == {"always-2-1": REMOVED_REASON, "elo": REMOVED_REASON}
    assert elo.predictions.count() == 1


def test_removed_entry_coming_back_is_reactivated(tmp_path):
    sync_lineup(lineup(tmp_path, LLM + STATS))
    sync_lineup(lineup(tmp_path, LLM))

    result = sync_lineup(lineup(tmp_path, LLM + STATS))

    assert sorted(result.activated) == ["always-2-1", "elo"]
    assert PredictionModel.objects.filter(is_active=True).count() == 3


def test_enabled_false_keeps_the_row_inactive(tmp_path):
    sync_lineup(lineup(tmp_path, STATS.replace('provider = "elo"', 'provider = "elo"\nenabled = false')))

    elo = PredictionModel.objects.get(slug="elo")
    assert (elo.is_active, elo.inactive_reason) == (False, DISABLED_REASON)


def test_changed_entry_is_updated_in_place(tmp_path):
    sync_lineup(lineup(tmp_path, LLM))

    result = sync_lineup(lineup(tmp_path, LLM.replace("Llama on Together", "Llama 3.3").replace(
        "Llama-3.3-70B-Instruct-Turbo", "Llama-3.3-70B-Instruct-Turbo-Free")))

    llama = PredictionModel.objects.get(slug="llama")
    assert result.updated == {"llama": ["name", "config"]}
    assert llama.name == "Llama 3.3"
    assert llama.config["model"].endswith("-Free")


def test_malformed_file_is_an_error_and_writes_nothing(tmp_path):
    path = lineup(tmp_path, LLM + STATS + "\n[[models]\nslug = ")

    with pytest.raises(CommandError, match="not valid TOML"):
        run("--file", str(path))
    assert PredictionModel.objects.count() == 0


def test_one_bad_entry_rejects_the_whole_file_and_lists_every_problem(tmp_path):
    bad = """
[[models]]
slug = "llama"
name = "Duplicate"
provider = "elo"

[[models]]
slug = "always-3-0"
name = "Always 3-0"
provider = "fixed_score"
config = { home = 3, away = 21 }

[[models]]
slug = "mystery"
name = "Mystery"
provider = "crystal_ball"

[[models]]
slug = "typo"
name = "Typo"
provider = "openai_compatible"
config = { model = "x", base_url_setting = "NOWHERE_BASE_URL", api_key_evn = "X" }
"""
    with pytest.raises(LineupError) as failure:
        sync_lineup(lineup(tmp_path, LLM + STATS + bad))

    text = "\n".join(failure.value.errors)
    assert "duplicate slug 'llama'" in text
    assert "config.away must be an integer in 0..20" in text
    assert "provider 'crystal_ball'" in text
    assert "unknown config key 'api_key_evn'" in text
    assert "NOWHERE_BASE_URL" in text
    assert PredictionModel.objects.count() == 0


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="file not found"):
        run("--file", str(tmp_path / "nope.toml"))


def test_invalid_file_exits_2_bad_usage_from_the_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "sync_models", "--file", str(tmp_path / "nope.toml")]).execute()

    assert exit_.value.code == 2
    assert "nothing was changed" in capsys.readouterr().err


def test_json_output_reports_the_sync(tmp_path, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY")

    report = json.loads(run("--file", str(lineup(tmp_path, LLM + STATS)), "--json"))

    assert report["changed"] is True
    assert report["created"] == ["llama", "always-2-1", "elo"]
    assert report["active_count"] == 2
    assert report["inactive"] == {"llama": "API key not configured: set TOGETHER_API_KEY"}


def test_default_path_is_the_checked_in_file():
    assert DEFAULT_LINEUP_PATH.name == "lineup.toml"
    assert DEFAULT_LINEUP_PATH.exists()
