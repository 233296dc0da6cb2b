"""Replay a real matchday through the live pipeline, with no API key and no real time needed.

The vendored openfootball results (CC0) are shifted so that a real matchday
is upcoming. Its matches are stored scheduled and without a score; their real
results wait in ``ReplayResult`` and reach a match only when the replayed
clock passes its end (the tick's live step copies them). Earlier matches of
the league are stored finished, with the same shift, as the history the
analysis and the statistical models learn from. The matchday's matches carry fixture
ids of the replay's own range (FIXTURE_ID_BASE), so the backfill sees them as it sees
synced fixtures.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from matches.models import Competition, Match, Team
from matches.openfootball import SEASONS, OpenFootballMatch, load_season, parse_season_label
from pipeline.models import ReplayResult
from predictions.models import Prediction

# Kickoff to final whistle with half-time and stoppage; the result is known from then on.
MATCH_LENGTH = timedelta(minutes=115)
# The first kickoff is this far after the replay's start, so the T-6h analysis happens in the replay.
DEFAULT_LEAD = timedelta(hours=6, minutes=30)
# Replayed time after the last match's end within which its jobs must have settled it.
GRACE = timedelta(hours=6)
# Replayed matches get fixture ids from here on (far above API-Football's and the demo's), so the backfill
# treats them like synced fixtures; live polling still asks the replay, never the API, for them.
FIXTURE_ID_BASE = 90_000_000_000


@dataclass(frozen=True)
class ReplayPlan:
    league: str
    season: str
    round: str
    start: datetime
    shift: timedelta
    match_ids: tuple[int, ...]
    ends_at: datetime

    def as_dict(self) -> dict:
        return {"league": self.league, "season": self.season, "round": self.round, "start": self.start.isoformat(),
                "shift_days": round(self.shift.total_seconds() / 86400, 2), "match_ids": list(self.match_ids),
                "ends_at": self.ends_at.isoformat()}


def replay_code(league: str) -> str:
    return f"replay-{league}"


def pick_round(matches: tuple[OpenFootballMatch, ...]) -> str:
    """The most compact full matchday (the shortest span from first to last kickoff)."""
    rounds: dict[str, list[datetime]] = {}
    for m in matches:
        if m.home_goals is not None:
            rounds.setdefault(m.round, []).append(m.kickoff_time)
    full = max(len(k) for k in rounds.values())
    return min((max(k) - min(k), name) for name, k in rounds.items() if len(k) == full)[1]


def team_name(name: str) -> str:
    """Replayed teams are teams of their own: the real club's matches (e.g. a loaded season with this very
    fixture's result, dated before the shifted kickoff) must never become a replayed match's history."""
    return f"{name} (replay)"


def _teams(names: set[str]) -> dict[str, Team]:
    wanted = {team_name(n): n for n in names}
    found = {wanted[t.name]: t for t in Team.objects.filter(name__in=wanted).order_by("pk")}
    for name in sorted(names - found.keys()):
        found[name] = Team.objects.create(name=team_name(name))
    return found


def _competition(league: str, season_label: str) -> Competition:
    source = load_season(league, season_label)
    competition, _ = Competition.objects.get_or_create(
        code=replay_code(league), season=source.start_year,
        defaults={"name": f"{source.name} (replay)", "country": source.country},
    )
    return competition


def _fixture_ids(count: int) -> list[int]:
    """Fresh ids above every replayed match's (several leagues may be replayed side by side)."""
    latest = Match.objects.filter(external_id__gt=FIXTURE_ID_BASE).order_by("-external_id").values_list(
        "external_id", flat=True).first()
    start = (latest or FIXTURE_ID_BASE) + 1
    return list(range(start, start + count))


def wipe(league: str) -> None:
    """Remove an earlier replay of ``league`` (its matches, predictions and hidden results)."""
    Match.objects.filter(competition__code=replay_code(league)).delete()
    Competition.objects.filter(code=replay_code(league)).delete()


def start_replay(*, now: datetime, league: str = "en.1", season: str = SEASONS[-1], round: str | None = None,
                 lead: timedelta = DEFAULT_LEAD) -> ReplayPlan:
    """Store the shifted matchday (results hidden) and its history; raises ValueError on a bad choice."""
    season = parse_season_label(season)
    if season not in SEASONS:
        raise ValueError(f"season {season} is not vendored; choose one of {', '.join(SEASONS)}")
    source = load_season(league, season)
    chosen = round or pick_round(source.matches)
    day = [m for m in source.matches if m.round == chosen and m.home_goals is not None]
    if not day:
        raise ValueError(f"{league} {season} has no played round {chosen!r}")
    first = min(m.kickoff_time for m in day)
    shift = now + lead - first
    earlier = [s for s in SEASONS if s <= season]
    with transaction.atomic():
        wipe(league)
        history = [(s, m) for s in earlier for m in load_season(league, s).matches
                   if m.kickoff_time < first and m.home_goals is not None]
        teams = _teams({n for _, m in [*history, *((season, m) for m in day)] for n in (m.home_team, m.away_team)})
        competitions = {s: _competition(league, s) for s in earlier}
        Match.objects.bulk_create(
            [Match(competition=competitions[s], home_team=teams[m.home_team], away_team=teams[m.away_team],
                   kickoff_time=m.kickoff_time + shift, status=Match.Status.FINISHED, status_code="FT",
                   home_score=m.home_goals, away_score=m.away_goals, round=m.round) for s, m in history],
            batch_size=500,
        )
        replayed = Match.objects.bulk_create(
            # A fixture id of the replay's own range: the backfill repairs what the replayed pipeline missed.
            [Match(competition=competitions[season], home_team=teams[m.home_team], external_id=fixture_id,
                   away_team=teams[m.away_team], kickoff_time=m.kickoff_time + shift, round=m.round)
             for m, fixture_id in zip(day, _fixture_ids(len(day)), strict=True)]
        )
        ReplayResult.objects.bulk_create(
            ReplayResult(match=match, home_score=m.home_goals, away_score=m.away_goals,
                         ends_at=match.kickoff_time + MATCH_LENGTH)
            for match, m in zip(replayed, day, strict=True)
        )
    return ReplayPlan(league, season, chosen, now, shift, tuple(m.pk for m in replayed),
                      max(m.kickoff_time for m in replayed) + MATCH_LENGTH)


def finished(plan: ReplayPlan) -> bool:
    """Every replayed match has its result and every prediction of it is settled."""
    matches = Match.objects.filter(pk__in=plan.match_ids)
    open_matches = matches.exclude(status=Match.Status.FINISHED).exists()
    unsettled = matches.filter(Q(predictions__status="pending")).exists()
    return not open_matches and not unsettled


def describe(plan: ReplayPlan) -> str:
    """One line on how the replayed matchday went: what was predicted before kickoff and scored."""
    preds = Prediction.objects.filter(match_id__in=plan.match_ids)
    before = sum(p.created_at < p.match.kickoff_time and not p.is_retroactive for p in preds.select_related("match"))
    return (f"replay of {plan.league} {plan.season} {plan.round} done: {len(plan.match_ids)} matches, "
            f"{preds.count()} predictions ({before} made before kickoff, {preds.filter(is_retroactive=True).count()} "
            f"retroactive), {preds.filter(status='scored').count()} scored, "
            f"{sum(preds.values_list('total_points', flat=True))} points in all")
