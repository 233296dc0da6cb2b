"""The lineup file -> PredictionModel rows.

``sync_lineup`` validates the whole file first and writes nothing if any entry is
wrong; then it upserts by slug in one transaction, so a second run changes nothing.

Who may switch a model on or off:

- The sync owns three reasons: an unset API key, ``enabled = false`` and removal
  from the file. It sets them, and it lifts them when their cause is gone (the key
  appears, the entry is enabled or comes back).
- A model the circuit breaker disabled (``disabled_at`` set) stays off whatever
  the file says: the breaker saw real failures that a config sync does not show
  to be fixed. Re-enabling is a deliberate admin action (``reenable_models``);
  the next sync then applies the file as usual.
- A model switched off by hand for any other reason stays off too; the sync
  undoes only what the sync did.

Rows are never deleted: predictions refer to them.
"""

import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from predictions.models import MAX_GOALS, PredictionModel

DEFAULT_LINEUP_PATH = Path(__file__).resolve().parent.parent / "lineup.toml"

KEY_MISSING_REASON = "API key not configured: set {env}"
DISABLED_REASON = "disabled in the lineup file (enabled = false)"
REMOVED_REASON = "removed from the lineup file"
_SYNC_REASON_PREFIXES = ("API key not configured", DISABLED_REASON, REMOVED_REASON)

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENTRY_KEYS = {"slug", "name", "provider", "enabled", "config"}
_LLM_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "base_url_setting": (str,),
    "base_url": (str,),
    "api_key_env": (str,),
    "api_key_optional": (bool,),
    "temperature": (int, float),
    "max_tokens": (int,),
    "json_mode": (bool,),
    "timeout": (int, float),
    "max_retries": (int,),
    "retry_backoff": (int, float),
    "retry_backoff_max": (int, float),
}


class LineupError(Exception):
    """The lineup file cannot be used; ``errors`` lists every problem found."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: " + "; ".join(errors))


@dataclass(frozen=True)
class LineupEntry:
    slug: str
    name: str
    provider: str
    enabled: bool
    config: dict

    def wanted_state(self) -> tuple[bool, str]:
        """(is_active, inactive_reason) the file and the environment call for."""
        if not self.enabled:
            return False, DISABLED_REASON
        reason = missing_key_reason(provider=self.provider, config=self.config)
        return (False, reason) if reason else (True, "")


@dataclass
class SyncResult:
    path: str
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # slug -> changed fields
    activated: list[str] = field(default_factory=list)
    deactivated: dict[str, str] = field(default_factory=dict)  # slug -> reason
    unchanged: list[str] = field(default_factory=list)
    inactive: dict[str, str] = field(default_factory=dict)  # every inactive row after the sync -> reason
    active_count: int = 0  # the gap threshold after the sync
    total: int = 0  # rows in the table, listed in the file or not

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.activated or self.deactivated)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


def load_lineup(path: Path | str | None = None) -> list[LineupEntry]:
    """Parse and validate the whole file; LineupError lists every problem."""
    path = Path(path) if path is not None else DEFAULT_LINEUP_PATH
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LineupError(path, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LineupError(path, [f"cannot read the file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise LineupError(path, [f"not valid TOML: {exc}"]) from None

    errors: list[str] = []
    unknown = set(document) - {"models"}
    if unknown:
        errors.append(f"unknown top-level keys {sorted(unknown)}; entries go in [[models]] tables")
    raw_entries = document.get("models")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise LineupError(path, [*errors, "no [[models]] entries"])

    entries: list[LineupEntry] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_entries, start=1):
        entry_errors: list[str] = []
        entry = _entry(raw, entry_errors)
        label = f"entry {number}" + (f" ({raw.get('slug')})" if isinstance(raw, dict) and raw.get("slug") else "")
        if entry is not None and entry.slug in seen:
            entry_errors.append(f"duplicate slug {entry.slug!r}")
        errors.extend(f"{label}: {message}" for message in entry_errors)
        if entry is not None and not entry_errors:
            seen.add(entry.slug)
            entries.append(entry)
    if errors:
        raise LineupError(path, errors)
    return entries


def _entry(raw: Any, errors: list[str]) -> LineupEntry | None:
    if not isinstance(raw, dict):
        errors.append("must be a table")
        return None
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        errors.append(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
    slug, name, provider = raw.get("slug"), raw.get("name"), raw.get("provider")
    enabled, config = raw.get("enabled", True), raw.get("config", {})
    if not isinstance(slug, str) or not _SLUG.match(slug) or len(slug) > 100:
        errors.append("slug must be 1-100 letters, digits, '-' or '_'")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append("name must be a non-empty string of at most 200 characters")
    if provider not in PredictionModel.Provider.values:
        errors.append(f"provider {provider!r} is not one of {', '.join(PredictionModel.Provider.values)}")
    if not isinstance(enabled, bool):
        errors.append("enabled must be true or false")
    if not isinstance(config, dict):
        errors.append("config must be a table")
        config = {}
    elif not _json_compatible(config):
        errors.append("config values must be strings, numbers, booleans, arrays or tables (no TOML dates)")
    if provider == PredictionModel.Provider.OPENAI_COMPATIBLE:
        _check_llm_config(config, errors)
    elif provider == PredictionModel.Provider.FIXED_SCORE:
        for side in ("home", "away"):
            goals = config.get(side)
            if isinstance(goals, bool) or not isinstance(goals, int) or not 0 <= goals <= MAX_GOALS:
                errors.append(f"config.{side} must be an integer in 0..{MAX_GOALS}")
    if errors:
        return None
    return LineupEntry(slug=slug, name=name.strip(), provider=provider, enabled=enabled, config=config)


def _json_compatible(value: Any) -> bool:
    """PredictionModel.config is JSON; tomllib also yields dates and times, which it cannot hold."""
    if isinstance(value, dict):
        return all(_json_compatible(item) for item in value.values())
    if isinstance(value, list):
        return all(_json_compatible(item) for item in value)
    return isinstance(value, str | int | float | bool)


def _check_llm_config(config: dict, errors: list[str]) -> None:
    for key, value in config.items():
        expected = _LLM_CONFIG_TYPES.get(key)
        if expected is None:
            errors.append(f"unknown config key {key!r} (allowed: {', '.join(_LLM_CONFIG_TYPES)})")
        elif (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            errors.append(f"config.{key} has the wrong type ({type(value).__name__})")
    if not isinstance(config.get("model"), str) or not config["model"].strip():
        errors.append("config.model (the remote model id) is required")
    setting, base_url = config.get("base_url_setting"), config.get("base_url")
    if setting is None and base_url is None:
        errors.append("config needs base_url_setting (or base_url)")
    if setting is not None and setting not in settings.LLM_BASE_URLS:
        errors.append(f"config.base_url_setting {setting!r} is not one of {', '.join(settings.LLM_BASE_URLS)}")
    if isinstance(base_url, str) and not base_url.startswith(("http://", "https://")):
        errors.append("config.base_url must start with http:// or https://")
    env_name = config.get("api_key_env")
    if env_name is None and not config.get("api_key_optional", False):
        errors.append("config.api_key_env is required (or api_key_optional = true for a local server)")
    if isinstance(env_name, str) and not _ENV_NAME.match(env_name):
        errors.append(f"config.api_key_env {env_name!r} is not an environment variable name")


def sync_lineup(path: Path | str | None = None) -> SyncResult:
    """Upsert the lineup's rows by slug; idempotent; writes nothing when the file is invalid."""
    path = Path(path) if path is not None else DEFAULT_LINEUP_PATH
    entries = load_lineup(path)
    result = SyncResult(path=str(path))
    with transaction.atomic():
        # Locked so a concurrent sync, or the circuit breaker, waits for this one.
        rows = {row.slug: row for row in PredictionModel.objects.select_for_update().order_by("pk")}
        for entry in entries:
            row = rows.get(entry.slug)
            if row is None:
                is_active, reason = entry.wanted_state()
                rows[entry.slug] = PredictionModel.objects.create(
                    slug=entry.slug, name=entry.name, provider=entry.provider, config=entry.config,
                    is_active=is_active, inactive_reason=reason,
                )
                result.created.append(entry.slug)
                continue
            fields = [name for name in ("name", "provider", "config") if getattr(row, name) != getattr(entry, name)]
            for name in fields:
                setattr(row, name, getattr(entry, name))
            state = _apply_state(row, *entry.wanted_state(), result)
            if fields or state:
                row.save(update_fields=[*fields, *state, "updated_at"])
            if fields:
                result.updated[row.slug] = fields
            elif not state:
                result.unchanged.append(row.slug)

        listed = {entry.slug for entry in entries}
        for row in rows.values():
            if row.slug in listed:
                continue
            changed = _apply_state(row, False, REMOVED_REASON, result)
            if changed:
                row.save(update_fields=[*changed, "updated_at"])

    for row in sorted(rows.values(), key=lambda row: row.slug):
        if row.is_active:
            result.active_count += 1
        else:
            result.inactive[row.slug] = row.inactive_reason or "deactivated by hand"
    result.total = len(rows)
    return result


def _apply_state(row: PredictionModel, is_active: bool, reason: str, result: SyncResult) -> list[str]:
    """Set the wanted activity unless someone else switched the row off; returns the changed fields."""
    if not row.is_active and not switched_off_by_sync(row):
        return []
    if (row.is_active, row.inactive_reason) == (is_active, reason):
        return []
    changed = ["is_active"] if row.is_active != is_active else []
    if row.inactive_reason != reason:
        changed.append("inactive_reason")
    if is_active:
        result.activated.append(row.slug)
    else:
        result.deactivated[row.slug] = reason
    row.is_active, row.inactive_reason = is_active, reason
    return changed


def switched_off_by_sync(row: PredictionModel) -> bool:
    """An inactive row the sync switched off (and may switch back on)."""
    return row.disabled_at is None and row.inactive_reason.startswith(_SYNC_REASON_PREFIXES)


def missing_key_reason(*, provider: str, config: dict) -> str:
    """Why a model cannot run for want of its API key ("" when it has one or needs none).

    The one rule behind both sync_models and re-enabling a model by hand in the admin.
    """
    env_name = config.get("api_key_env")
    needs_key = provider == PredictionModel.Provider.OPENAI_COMPATIBLE and not config.get("api_key_optional", False)
    if needs_key and not os.environ.get(env_name or "", "").strip():
        return KEY_MISSING_REASON.format(env=env_name)
    return ""


def activation_refusal(*, model: PredictionModel) -> str:
    """Why ``model`` may not be switched on by hand ("" when it may), in words an operator can act on.

    A model sync_models switched off (key unset, disabled or removed in the lineup file), or one
    whose key is unset now, would raise the gap threshold and fail every match until the next sync
    switched it off again: its fix is the environment or the lineup file, then sync_models.
    """
    if not model.is_active and switched_off_by_sync(model):
        return (
            f"sync_models switched it off ({model.inactive_reason}). "
            "Fix the environment or predictions/lineup.toml, then run sync_models."
        )
    if reason := missing_key_reason(provider=model.provider, config=model.config):
        return f"{reason}, then run sync_models."
    return ""
