"""Walk-forward evaluation of the local models on a vendored openfootball season.

Each match of the season is predicted through the same registry and adapters
as production, from a history holding only the league's matches that kicked
off strictly before it: this season's earlier results plus the previous
vendored seasons, within the analysis' window (``HISTORY_DAYS``). Nothing at
or after the kickoff is ever passed in. Dixon-Coles and Elo refit for every
distinct history, i.e. once per kickoff slot; matches that kick off together
share a fit through the fit cache, so no matchday-level shortcut is needed.

The platform's quota points are computed as settlement would: quotas from the
tips of the field for that match. The field is the default lineup, one model
per local provider as in production. Comparison variants (``VARIANTS``, the
``--variants`` option) are scored against that field's quotas without joining
it, like one extra member of a large group: otherwise variants that tip alike
would move the quotas they are being compared on. Plain Kicktipp 2/3/4 points
are reported alongside, for comparison with published baselines.
"""

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from matches.openfootball import LEAGUES, load_season, parse_season_label, seasons_of, tier
from matches.services.analysis import HISTORY_DAYS
from matches.services.leak_guard import latest_result_kickoff
from predictions.models import PredictionModel
from predictions.providers.base import MatchContext, PredictionFailed, Predictor, Tip
from predictions.providers.registry import build_predictor
from predictions.scoring import Tendency, calculate_quotas, score_prediction, tendency_of


@dataclass(frozen=True)
class Contender:
    slug: str
    provider: str
    config: dict = field(default_factory=dict)
    in_field: bool = True  # False: scored against the field's quotas without moving them


DEFAULT_LINEUP: tuple[Contender, ...] = (
    Contender("always-2-1", "fixed_score", {"home": 2, "away": 1}),
    Contender("most-frequent", "most_frequent"),
    Contender("dixon-coles", "dixon_coles", {"quota_estimate": "field"}),
    Contender("elo", "elo", {"quota_estimate": "field"}),
)
VARIANTS: tuple[Contender, ...] = (
    Contender("dixon-coles-own-shares", "dixon_coles", {"quota_estimate": "model"}, in_field=False),
    Contender("elo-own-shares", "elo", {"quota_estimate": "model"}, in_field=False),
    Contender("dixon-coles-typical", "dixon_coles", {"quota_estimate": "typical"}, in_field=False),
    Contender("dixon-coles-likeliest", "dixon_coles", {"tip": "most_likely"}, in_field=False),
    Contender("elo-typical", "elo", {"quota_estimate": "typical"}, in_field=False),
    Contender("elo-likeliest", "elo", {"tip": "most_likely"}, in_field=False),
)

PredictorFactory = Callable[[Contender], Predictor]


class EvaluationError(ValueError):
    """The league or season cannot be evaluated; the message says why."""


@dataclass
class ModelScore:
    slug: str
    provider: str
    in_field: bool = True
    matches: int = 0
    failed: int = 0
    tendency_hits: int = 0
    exact_hits: int = 0
    quota_points: int = 0
    kicktipp_points: int = 0
    tips_by_tendency: dict[str, int] = field(default_factory=lambda: {"home": 0, "draw": 0, "away": 0})
    first_failure: str = ""

    @property
    def tendency_accuracy(self) -> float:
        return self.tendency_hits / self.matches if self.matches else 0.0

    @property
    def quota_points_per_match(self) -> float:
        return self.quota_points / self.matches if self.matches else 0.0

    @property
    def kicktipp_points_per_match(self) -> float:
        return self.kicktipp_points / self.matches if self.matches else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {
            "tendency_accuracy": round(self.tendency_accuracy, 4),
            "quota_points_per_match": round(self.quota_points_per_match, 4),
            "kicktipp_points_per_match": round(self.kicktipp_points_per_match, 4),
        }


@dataclass
class EvaluationReport:
    league: str
    season: str
    matches: int
    warm_up_seasons: list[str]
    scores: list[ModelScore]
    history_days: int = HISTORY_DAYS
    unscored: int = 0  # matches of the season without a result upstream: counted, never predicted
    lower_tier: str = ""  # the division below whose earlier seasons rate promoted teams ("" if none is used)
    lower_tier_seasons: list[str] = field(default_factory=list)

    @property
    def warm_up(self) -> str:
        """What each prediction is fitted on, said as it is."""
        if not self.warm_up_seasons:
            return f"none: only this season's results of the {self.history_days} days before each match"
        lower = (f"; {self.lower_tier} results from {', '.join(self.lower_tier_seasons)}"
                 if self.lower_tier_seasons else "")
        return (
            f"the {self.history_days} days before each match: {self.league} results from "
            f"{', '.join(self.warm_up_seasons)} and this season{lower}"
        )

    def as_dict(self) -> dict:
        return {
            "league": self.league,
            "season": self.season,
            "matches": self.matches,
            "unscored_matches": self.unscored,
            "warm_up": self.warm_up,
            "warm_up_seasons": self.warm_up_seasons,
            "history_days": self.history_days,
            "lower_tier": self.lower_tier,
            "lower_tier_seasons": self.lower_tier_seasons,
            "models": [s.as_dict() for s in self.scores],
        }


def kicktipp_points(tip: tuple[int, int], result: tuple[int, int]) -> int:
    """Plain Kicktipp 2/3/4: exact 4, goal difference 3 (wins only), tendency 2."""
    if tip == result:
        return 4
    if tendency_of(*tip) != tendency_of(*result):
        return 0
    if result[0] != result[1] and tip[0] - tip[1] == result[0] - result[1]:
        return 3
    return 2


def _registry_factory(contender: Contender) -> Predictor:
    return build_predictor(PredictionModel(slug=contender.slug, provider=contender.provider, config=contender.config))


def lower_tier_of(league: str) -> str:
    """The vendored division below ``league`` (en.1 -> en.2), or "" if there is none."""
    level = tier(league)
    if level is None:
        return ""
    lower = f"{league.rsplit('.', 1)[0]}.{level + 1}"
    return lower if lower in LEAGUES else ""


def lower_tier_seasons(league: str, folder: str) -> tuple[str, list[str]]:
    """The division below ``league`` and its vendored seasons before ``folder``: what rates promoted teams."""
    lower = lower_tier_of(league)
    seasons = [s for s in seasons_of(lower) if s < folder] if lower else []
    return (lower if seasons else ""), seasons


def history_rows(league: str, folder: str, team_id: Callable[[str], int]) -> tuple[list, list[dict], list[str]]:
    """Every finished match of ``league`` up to ``folder`` plus the division below (``level`` 1), oldest first.

    Returns (kickoffs, rows, warm-up seasons). The lower division lets the models rate promoted teams.
    """
    warm_up = [s for s in seasons_of(league) if s < folder]
    sources = [(load_season(league, s), 0) for s in [*warm_up, folder]]
    lower, lower_seasons = lower_tier_seasons(league, folder)
    sources += [(load_season(lower, s), 1) for s in lower_seasons]
    finished = sorted(
        ((m, level) for season, level in sources for m in season.matches if m.home_goals is not None),
        key=lambda item: (item[0].kickoff_time, item[1], item[0].home_team),
    )
    rows = [
        {
            "date": m.kickoff_time.isoformat(),
            "home_id": team_id(m.home_team),
            "away_id": team_id(m.away_team),
            "home_goals": m.home_goals,
            "away_goals": m.away_goals,
        }
        | ({"level": level} if level else {})
        for m, level in finished
    ]
    return [m.kickoff_time for m, _ in finished], rows, warm_up


def _score_tips(scores: dict[str, ModelScore], tips: dict[str, Tip], field_slugs: set[str], result) -> None:
    quotas = calculate_quotas((t.home, t.away) for slug, t in tips.items() if slug in field_slugs)

    for slug, score in scores.items():
        score.matches += 1
        tip = tips.get(slug)
        if tip is None:
            continue
        score.tips_by_tendency[tendency_of(tip.home, tip.away).value] += 1
        score.tendency_hits += tendency_of(tip.home, tip.away) == tendency_of(*result)
        score.exact_hits += (tip.home, tip.away) == result
        score.quota_points += score_prediction(tip.home, tip.away, *result, quotas).total
        score.kicktipp_points += kicktipp_points((tip.home, tip.away), result)


def evaluate(
    *,
    league: str,
    season: str,
    limit: int | None = None,
    lineup: Sequence[Contender] = DEFAULT_LINEUP,
    predictor_factory: PredictorFactory = _registry_factory,
    history_days: int = HISTORY_DAYS,
) -> EvaluationReport:
    """Predict every finished match of the season in kickoff order and score the tips.

    A match of the season without a result upstream is counted in ``unscored``, never predicted.
    """
    team_ids: dict[str, int] = {}

    def team_id(name: str) -> int:
        return team_ids.setdefault(name, len(team_ids) + 1)

    try:
        folder = parse_season_label(season)
        target = load_season(league, folder)
        kickoffs, rows, warm_up = history_rows(league, folder, team_id)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None
    if limit is not None and limit < 1:
        raise EvaluationError(f"limit must be a positive number of matches, got {limit}")
    to_predict = [m for m in target.matches if m.home_goals is not None and m.away_goals is not None]
    unscored = len(target.matches) - len(to_predict)
    if limit is not None:
        to_predict = to_predict[:limit]
    if not to_predict:
        raise EvaluationError(f"{league} {folder} has no finished matches to evaluate")

    predictors = {c.slug: predictor_factory(c) for c in lineup}
    scores = {c.slug: ModelScore(c.slug, c.provider, c.in_field) for c in lineup}
    field_slugs = {c.slug for c in lineup if c.in_field}
    # The field's tips per tendency on the matches settled so far: (kickoff, running home/draw/away counts).
    field_kickoffs: list = []
    field_totals: list[tuple[int, int, int]] = [(0, 0, 0)]
    for number, match in enumerate(to_predict, start=1):
        start = bisect_left(kickoffs, match.kickoff_time - timedelta(days=history_days))
        # Only results known before kickoff: matches kicked off at least RESULT_KNOWN_AFTER earlier.
        end = bisect_left(kickoffs, latest_result_kickoff(match.kickoff_time))
        settled = bisect_left(field_kickoffs, latest_result_kickoff(match.kickoff_time))
        context = MatchContext(
            match_id=number,
            kickoff_time=match.kickoff_time,
            competition=f"{league} {folder}",
            home_team_id=team_id(match.home_team),
            home_team=match.home_team,
            away_team_id=team_id(match.away_team),
            away_team=match.away_team,
            analysis={
                "history": rows[start:end],
                "_field_shares": list(field_totals[settled]),
                "_field_size": len(field_slugs),
            },
        )
        tips: dict[str, Tip] = {}
        for slug, predictor in predictors.items():
            try:
                tips[slug] = predictor.predict(context)
            except PredictionFailed as exc:
                scores[slug].failed += 1
                scores[slug].first_failure = scores[slug].first_failure or str(exc)
        _score_tips(scores, tips, field_slugs, (match.home_goals, match.away_goals))
        counts = [tendency_of(t.home, t.away) for slug, t in tips.items() if slug in field_slugs]
        last = field_totals[-1]
        field_kickoffs.append(match.kickoff_time)
        field_totals.append(tuple(last[i] + counts.count(t) for i, t in enumerate(Tendency)))
    lower, lower_seasons = lower_tier_seasons(league, folder)
    return EvaluationReport(
        league, folder, len(to_predict), warm_up, list(scores.values()), history_days, unscored, lower, lower_seasons
    )
