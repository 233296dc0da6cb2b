"""Read the vendored openfootball results (CC0): matches/data/openfootball/<season>/<code>.json.

Leagues and seasons are whatever files the data folder holds (``LEAGUES``,
``SEASONS``); ``COUNTRIES`` only names the country and time zone of a code's
prefix. A score has ``ft`` (after 90 minutes) and, for knockout ties, ``et``
(after extra time) and ``p`` (the shoot-out), kept as ``periods``.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from matches.results import AFTER_90, AFTER_EXTRA_TIME, PeriodScores, Score, counting_score

DATA_DIR = Path(__file__).resolve().parent / "data" / "openfootball"
# (country, time zone of the file's local times) per code prefix; a prefix missing here cannot be loaded.
COUNTRIES = {
    "en": ("England", "Europe/London"),
    "de": ("Germany", "Europe/Berlin"),
    "es": ("Spain", "Europe/Madrid"),
    "fr": ("France", "Europe/Paris"),
    "it": ("Italy", "Europe/Rome"),
    "uefa": ("Europe", "Europe/Paris"),  # UEFA publishes its kickoffs in Central European Time
}
# The result that counts per competition code (default: after 90 minutes, as in most tipping games).
# A Champions League knockout tie is decided by the match as played, extra time included; a shoot-out
# is not a match score, so it does not count (league-phase matches end at 90 either way).
RESULT_RULES = {"uefa.cl": AFTER_EXTRA_TIME}
# One club, two spellings across upstream files (fr.1 2022-23 and de.2 use shorter names): without this
# a club would be a stranger to its own past. Checked by hand against the files; canonical = newest.
TEAM_ALIASES = {
    "AS Monaco": "AS Monaco FC",
    "Olympique Marseille": "Olympique de Marseille",
    "Paris Saint-Germain": "Paris Saint-Germain FC",
    "RC Lens": "Racing Club de Lens",
    "RC Strasbourg": "RC Strasbourg Alsace",
    "Stade Rennais": "Stade Rennais FC 1901",
    "FC St. Pauli": "FC St. Pauli 1910",
}
_SEASON_FOLDER = re.compile(r"^\d{4}-\d{2}$")


def _discover() -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    """The league codes and season folders present in the data folder."""
    folders = sorted(p for p in DATA_DIR.iterdir() if p.is_dir() and _SEASON_FOLDER.match(p.name))
    codes = sorted({f.stem for folder in folders for f in folder.glob("*.json")})
    leagues = {code: COUNTRIES[code.split(".")[0]] for code in codes if code.split(".")[0] in COUNTRIES}
    return leagues, tuple(p.name for p in folders)


LEAGUES, SEASONS = _discover()


def tier(code: str) -> int | None:
    """The division of a domestic league code (en.2 -> 2); None for a cup such as uefa.cl."""
    suffix = code.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else None


def seasons_of(code: str) -> tuple[str, ...]:
    """The season folders holding a file for ``code``, oldest first."""
    return tuple(s for s in SEASONS if (DATA_DIR / s / f"{code}.json").exists())


@dataclass(frozen=True)
class OpenFootballMatch:
    code: str
    season: str
    round: str
    kickoff_time: datetime  # aware, UTC
    home_team: str
    away_team: str
    home_goals: int | None  # after 90 minutes (``ft``); None if unplayed or unrecorded
    away_goals: int | None
    periods: PeriodScores = field(default_factory=PeriodScores)

    def counting_score(self, rule: str = AFTER_90) -> Score | None:
        return counting_score(rule, self.periods)


@dataclass(frozen=True)
class OpenFootballSeason:
    code: str
    season: str
    name: str
    country: str
    matches: tuple[OpenFootballMatch, ...]

    @property
    def start_year(self) -> int:
        return int(self.season[:4])


def parse_season_label(label: str) -> str:
    """Accept 2024-25, 2024/25 or 2024 and return the folder name 2024-25."""
    text = label.strip().replace("/", "-")
    start = text.split("-")[0]
    if not (start.isascii() and start.isdigit() and len(start) == 4):
        raise ValueError(f"season must look like 2024-25 or 2024, got {label!r}")
    return f"{start}-{(int(start) + 1) % 100:02d}"


def _pair(value: object) -> Score | None:
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else None


def _periods(score: dict) -> PeriodScores:
    """``ft``/``et``/``p`` as published, except a level shoot-out (upstream has 4-4s): no shoot-out
    ends level, so such a figure is treated as unknown rather than guessed at."""
    shootout = _pair(score.get("p"))
    if shootout is not None and shootout[0] == shootout[1]:
        shootout = None
    return PeriodScores(after_90=_pair(score.get("ft")), after_extra_time=_pair(score.get("et")), shootout=shootout)


@cache
def load_season(code: str, season: str) -> OpenFootballSeason:
    """Parse one league season; times in the files are local to the league's country."""
    if code not in LEAGUES:
        raise ValueError(f"unknown league {code!r}; choose one of {', '.join(sorted(LEAGUES))}")
    folder = parse_season_label(season)
    path = DATA_DIR / folder / f"{code}.json"
    if not path.exists():
        raise ValueError(f"no vendored data for {code} {folder}; seasons available: {', '.join(SEASONS)}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    country, tz_name = LEAGUES[code]
    tz = ZoneInfo(tz_name)
    matches = []
    for row in raw["matches"]:
        local = datetime.fromisoformat(f"{row['date']}T{row.get('time') or '15:00'}").replace(tzinfo=tz)
        score = row.get("score") or {}
        ft = score.get("ft")
        matches.append(
            OpenFootballMatch(
                code=code,
                season=folder,
                round=row.get("round", ""),
                kickoff_time=local.astimezone(UTC),
                home_team=TEAM_ALIASES.get(row["team1"], row["team1"]),
                away_team=TEAM_ALIASES.get(row["team2"], row["team2"]),
                home_goals=ft[0] if ft else None,
                away_goals=ft[1] if ft else None,
                periods=_periods(score),
            )
        )
    matches.sort(key=lambda m: (m.kickoff_time, m.home_team))
    return OpenFootballSeason(code, folder, raw.get("name", code), country, tuple(matches))
