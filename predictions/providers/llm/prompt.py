"""The prompt: versioned templates (predictions/prompts/<version>/) filled from the match context.

The templates state how tips are scored and which result counts (read from the
competition's result rule, the same rule settlement uses); the analysis summary
is a compact, defensive rendering of the pre-kickoff analysis.
"""

from datetime import date, datetime
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from predictions.providers.base import MatchContext, PredictionFailed

PROMPT_VERSION = "v2"
PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"

# What "the score that counts" means under each Competition.result_rule, worded as settlement applies it.
RESULT_THAT_COUNTS = {
    "after_90": "the score after 90 minutes plus stoppage time; extra time and penalties do not count",
    "after_extra_time": (
        "the score after extra time when the match goes to extra time, otherwise after 90 minutes plus "
        "stoppage time; a penalty shoot-out does not count"
    ),
    "with_shootout": (
        "the score after extra time with the goals of a penalty shoot-out added to it (a 1-1 won 4-3 on "
        "penalties counts as 5-4); a match decided in regular time counts as it stands after 90 minutes "
        "plus stoppage time"
    ),
}


@cache
def load_templates(version: str = PROMPT_VERSION) -> tuple[Template, Template]:
    """(system, user) templates of a prompt version; PredictionFailed when the version has none."""
    folder = PROMPTS_DIR / version
    try:
        return (
            Template((folder / "system.txt").read_text(encoding="utf-8").strip()),
            Template((folder / "user.txt").read_text(encoding="utf-8").strip()),
        )
    except OSError as exc:
        raise PredictionFailed(f"prompt version {version!r} has no templates in {folder}: {exc}") from None


def result_that_counts(rule: str) -> str:
    try:
        return RESULT_THAT_COUNTS[rule]
    except KeyError:
        known = ", ".join(RESULT_THAT_COUNTS)
        raise PredictionFailed(f"unknown result rule {rule!r}; expected one of {known}") from None


def build_system_prompt(context: MatchContext, version: str = PROMPT_VERSION) -> str:
    """The system message: the task, the scoring and the result that counts for this competition."""
    system, _ = load_templates(version)
    return system.substitute(result_that_counts=result_that_counts(context.result_rule))


def build_prompt(context: MatchContext, version: str = PROMPT_VERSION) -> str:
    """The user message: who, when, which result counts, and a summary of the pre-kickoff analysis."""
    _, user = load_templates(version)
    return user.substitute(
        competition=context.competition,
        kickoff=f"{context.kickoff_time:%Y-%m-%d %H:%M}",
        home_team=context.home_team,
        away_team=context.away_team,
        result_that_counts=result_that_counts(context.result_rule),
        summary=summarise_analysis(context) or "(no pre-match statistics available)",
    )

# Top-level analysis keys that describe the match itself or raw material, never context.
_SKIPPED_KEYS = frozenset(
    {
        "history", "schema", "sources", "match", "fixture", "status", "status_code", "result", "score",
        "home_score", "away_score", "final_score", "goals", "settled_at",
    }
)
_DATE_KEYS = ("date", "kickoff", "kickoff_time", "played_at", "datetime", "utc_date")
# PostgreSQL's jsonb does not keep key order; render in a stable, readable one.
_KEY_ORDER = {
    key: index
    for index, key in enumerate(
        (
            "as_of", "date", "summary", "form", "rest", "season_record", "table", "head_to_head", "rank", "team",
            "competition", "season", "venue", "opponent", "home", "away", "played", "won", "drawn", "lost",
            "goals_for", "goals_against", "goal_diff", "points", "home_goals", "away_goals", "result", "days",
        )
    )
}
MAX_ROWS = 6
TABLE_LEADERS = 3
MAX_DEPTH = 3
MAX_SUMMARY_CHARS = 5000
MAX_STRING_CHARS = 80


def summarise_analysis(context: MatchContext) -> str:
    """A compact, defensive rendering of ``context.analysis``.

    The analysis schema belongs to the match-data code and may grow, so this walks
    whatever is there: it drops the raw ``history`` list, keeps the latest few rows
    of dated lists (and, for long undated lists such as a table, the leaders plus
    the two teams' rows), and drops any row dated at or after kickoff as a second
    line of defence behind the analysis guard.
    """
    analysis = context.analysis if isinstance(context.analysis, dict) else {}
    lines: list[str] = []
    for key, value in _ordered(analysis):
        if not isinstance(key, str) or key in _SKIPPED_KEYS or key.startswith("_"):
            continue
        _render(_label(key, context), value, context, 0, lines)
    text = "\n".join(lines)
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[:MAX_SUMMARY_CHARS].rsplit("\n", 1)[0] + "\n(truncated)"
    return text


def _label(key: str, context: MatchContext) -> str:
    if key in ("home", "home_team"):
        return f"home team ({context.home_team})"
    if key in ("away", "away_team"):
        return f"away team ({context.away_team})"
    return key.replace("_", " ")


def _render(label: str, value: Any, context: MatchContext, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    if _is_scalar(value):
        lines.append(f"{indent}{label}: {_scalar(value, label)}")
    elif isinstance(value, dict):
        if _dated_at_or_after_kickoff(value, context):
            return
        if all(_is_scalar(item) for item in value.values()):
            lines.append(f"{indent}{label}: {_row(value, context)}")
        elif depth < MAX_DEPTH:
            lines.append(f"{indent}{label}:")
            for key, item in _ordered(value):
                if isinstance(key, str) and key != "history" and not key.startswith("_"):
                    _render(_label(key, context) if depth == 0 else key.replace("_", " "), item, context,
                            depth + 1, lines)
    elif isinstance(value, list):
        _render_list(label, value, context, depth, lines)


def _render_list(label: str, items: list, context: MatchContext, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    if all(_is_scalar(item) for item in items):
        shown = ", ".join(_scalar(item) for item in items[:MAX_ROWS])
        more = f" (+{len(items) - MAX_ROWS} more)" if len(items) > MAX_ROWS else ""
        lines.append(f"{indent}{label}: {shown}{more}")
        return
    rows = [item for item in items if isinstance(item, dict) and not _dated_at_or_after_kickoff(item, context)]
    if not rows:
        return
    chosen = _choose_rows(rows, context)
    more = f" ({len(chosen)} of {len(rows)})" if len(chosen) < len(rows) else ""
    lines.append(f"{indent}{label}{more}:")
    lines.extend(f"{indent}  - {_row(row, context)}" for row in chosen)


def _choose_rows(rows: list[dict], context: MatchContext) -> list[dict]:
    """The latest dated rows, or for long undated lists (a table) the leaders and our two teams."""
    if len(rows) <= MAX_ROWS:
        return rows
    if all(_row_date(row) is not None for row in rows):
        return sorted(rows, key=lambda row: _sortable(_row_date(row)), reverse=True)[:MAX_ROWS]
    ours = {context.home_team_id, context.away_team_id, context.home_team, context.away_team}
    chosen = [
        row for index, row in enumerate(rows)
        if index < TABLE_LEADERS or any(_is_scalar(v) and not isinstance(v, bool) and v in ours for v in row.values())
    ]
    return chosen


def _row(row: dict, context: MatchContext) -> str:
    """``key=value`` pairs; database ids are noise to a language model and are left out."""
    parts = []
    for key, value in _ordered(row):
        if _is_id(key):
            continue
        if _is_scalar(value):
            parts.append(f"{key}={_scalar(value, key)}")
        elif isinstance(value, dict) and all(_is_scalar(item) for item in value.values()):
            parts.extend(f"{key}.{sub}={_scalar(item, sub)}" for sub, item in _ordered(value) if not _is_id(sub))
        elif isinstance(value, list | dict):
            parts.append(f"{key}=[{len(value)} items]")
    return ", ".join(parts)


def _ordered(mapping: dict) -> list[tuple[Any, Any]]:
    return sorted(mapping.items(), key=lambda item: (_KEY_ORDER.get(item[0], len(_KEY_ORDER)), str(item[0])))


def _is_id(key: Any) -> bool:
    return isinstance(key, str) and (key == "id" or key.endswith("_id"))


def _row_date(row: dict) -> datetime | date | None:
    for key in _DATE_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            if len(value) <= 10:
                return parsed.date()
            return parsed
    return None


def _sortable(value: datetime | date | None) -> str:
    return value.isoformat() if value is not None else ""


def _dated_at_or_after_kickoff(row: dict, context: MatchContext) -> bool:
    when = _row_date(row)
    if when is None:
        return False
    if isinstance(when, datetime):
        if when.tzinfo is None:
            return when >= context.kickoff_time.replace(tzinfo=None)
        return when >= context.kickoff_time
    return when >= context.kickoff_time.date()


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _scalar(value: Any, key: Any = None) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if key in _DATE_KEYS and isinstance(value, str) and len(value) > 10:
        try:  # the day is enough context and saves tokens
            return datetime.fromisoformat(value).strftime("%Y-%m-%d")
        except ValueError:
            pass
    text = str(value)
    return text if len(text) <= MAX_STRING_CHARS else text[: MAX_STRING_CHARS - 1] + "…"
