"""Read the vendored openfootball results (CC0): matches/data/openfootball/<season>/<code>.json."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

DATA_DIR = Path(__file__).resolve().parent / "data" / "openfootball"
LEAGUES = {
    "en.1": ("England", "Europe/London"),
    "de.1": ("Germany", "Europe/Berlin"),
    "es.1": ("Spain", "Europe/Madrid"),
    "fr.1": ("France", "Europe/Paris"),
    "it.1": ("Italy", "Europe/Rome"),
}
SEASONS = ("2022-23", "2023-24", "2024-25")


@dataclass(frozen=True)
class OpenFootballMatch:
    code: str
    season: str
    round: str
    kickoff_time: datetime  # aware, UTC
    home_team: str
    away_team: str
    home_goals: int | None
    away_goals: int | None


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
        ft = (row.get("score") or {}).get("ft")
        matches.append(
            OpenFootballMatch(
                code=code,
                season=folder,
                round=row.get("round", ""),
                kickoff_time=local.astimezone(UTC),
                home_team=row["team1"],
                away_team=row["team2"],
                home_goals=ft[0] if ft else None,
                away_goals=ft[1] if ft else None,
            )
        )
    matches.sort(key=lambda m: (m.kickoff_time, m.home_team))
    return OpenFootballSeason(code, folder, raw.get("name", code), country, tuple(matches))
