"""Predictor adapters: ``PredictionModel.config`` + ``MatchContext`` -> ``Tip``.

Each reads ``context.analysis["history"]`` (the league's finished matches
before kickoff) and the two team ids; nothing else of the match. Bad config
raises ``PredictionFailed`` when the adapter is built, so the reason lands on
the model's health record.
"""

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import numpy as np

from predictions.models import MAX_GOALS
from predictions.providers.base import MatchContext, PredictionFailed, Tip
from predictions.providers.statistical import dixon_coles, elo
from predictions.providers.statistical.baselines import most_frequent_score
from predictions.providers.statistical.history import Result, results_from_history
from predictions.providers.statistical.tipping import QUOTA_ESTIMATES, best_tip, most_likely_tip

TIP_STRATEGIES = ("expected_points", "most_likely")
DEFAULT_MIN_MATCHES = 20
# Below min_matches a fit is noise: the model tips from the league's goal rates instead, shrunk
# towards a typical top flight's (home, away) goals per match with the weight of PRIOR_WEIGHT matches.
# Refusing would count as a model failure and trip the circuit breaker on every new season or cup.
PRIOR_GOALS = (1.55, 1.25)
PRIOR_WEIGHT = 10


def league_prior(results: list[Result]) -> tuple[float, float]:
    """Expected (home, away) goals from the league's results alone, shrunk towards PRIOR_GOALS."""
    n = len(results)
    home = (sum(r.home_goals for r in results) + PRIOR_WEIGHT * PRIOR_GOALS[0]) / (n + PRIOR_WEIGHT)
    away = (sum(r.away_goals for r in results) + PRIOR_WEIGHT * PRIOR_GOALS[1]) / (n + PRIOR_WEIGHT)
    return home, away


def _number(config: Mapping, key: str, default: float, *, minimum: float | None = None) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PredictionFailed(f"config {key!r} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise PredictionFailed(f"config {key!r} must be at least {minimum}, got {value!r}")
    return value


def _goals(config: Mapping, key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GOALS:
        raise PredictionFailed(f"config {key!r} must be an integer in 0..{MAX_GOALS}, got {value!r}")
    return value


def _reject_unknown(config: Mapping, allowed: set[str], provider: str) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise PredictionFailed(f"unknown {provider} config keys {unknown}; allowed: {sorted(allowed)}")


def _history(context: MatchContext) -> list[Result]:
    rows = (context.analysis or {}).get("history")
    if rows is None:
        raise PredictionFailed("the analysis has no 'history'; rebuild the analysis")
    if not isinstance(rows, list):
        raise PredictionFailed("the analysis 'history' must be a list of results")
    return results_from_history(rows, before=context.kickoff_time)


def _field_shares(context: MatchContext) -> list[float] | None:
    """The field's (home, draw, away) tip counts on earlier settled matches, if the context has them.

    The leading underscore keeps it out of the LLM prompt: it is for the quota estimate only.
    """
    shares = (context.analysis or {}).get("_field_shares")
    if isinstance(shares, list) and len(shares) == 3 and all(isinstance(s, int | float) for s in shares):
        return [float(s) for s in shares]
    return None


def _field_size(context: MatchContext) -> int | None:
    """How many tips the match will get, this one included (``_field_size``), if the context says."""
    size = (context.analysis or {}).get("_field_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 1:
        return size
    return None


class _DistributionPredictor:
    """Shared by the models with a score distribution: fit, then pick the tip."""

    provider = ""
    param_type: type
    fit_function: Callable[..., Any]

    def __init__(self, config: Mapping | None = None) -> None:
        config = dict(config or {})
        param_names = {f.name for f in fields(self.param_type)}
        _reject_unknown(config, param_names | {"quota_estimate", "tip", "min_matches"}, self.provider)
        params = {}
        for name in param_names & set(config):
            default = getattr(self.param_type(), name)
            value = _number(config, name, default)
            params[name] = int(value) if isinstance(default, int) else float(value)
        try:
            self.params = self.param_type(**params)
        except (TypeError, ValueError) as exc:
            raise PredictionFailed(f"bad {self.provider} config: {exc}") from None
        self.min_matches = int(_number(config, "min_matches", DEFAULT_MIN_MATCHES, minimum=1))
        self.tip_strategy = config.get("tip", "expected_points")
        if self.tip_strategy not in TIP_STRATEGIES:
            raise PredictionFailed(f"config 'tip' must be one of {TIP_STRATEGIES}, got {self.tip_strategy!r}")
        estimate = config.get("quota_estimate", "field")
        if isinstance(estimate, list):
            if (
                len(estimate) != 3
                or not all(isinstance(s, int | float) and s >= 0 for s in estimate)
                or not any(estimate)
            ):
                raise PredictionFailed(f"config 'quota_estimate' shares must be 3 non-negative numbers: {estimate}")
            estimate = tuple(float(s) for s in estimate)
        elif estimate not in QUOTA_ESTIMATES:
            raise PredictionFailed(
                f"config 'quota_estimate' must be one of {QUOTA_ESTIMATES} or [home, draw, away] shares"
            )
        self.quota_estimate = estimate

    def predict(self, context: MatchContext) -> Tip:
        results = _history(context)
        if len(results) < self.min_matches:
            expected_home, expected_away = league_prior(results)
            matrix = dixon_coles.score_matrix(expected_home, expected_away, 0.0, self.params.max_goals)
            basis = "league_prior"
        else:
            model = type(self).fit_function(results, self.params)
            matrix = model.score_matrix(context.home_team_id, context.away_team_id)
            expected_home, expected_away = model.expected_goals(context.home_team_id, context.away_team_id)
            basis = "fit"
        p_home, p_draw = float(np.tril(matrix, -1).sum()), float(np.trace(matrix))
        detail = {
            "provider": self.provider,
            "basis": basis,
            "expected_goals": [round(expected_home, 3), round(expected_away, 3)],
            "probabilities": {
                "home": round(p_home, 4),
                "draw": round(p_draw, 4),
                "away": round(1 - p_home - p_draw, 4),
            },
            "history_matches": len(results),
        }
        if self.tip_strategy == "most_likely":
            home, away = most_likely_tip(matrix)
            return Tip(home, away, detail | {"tip": "most_likely"})
        choice = best_tip(matrix, self.quota_estimate, _field_shares(context), _field_size(context))
        return Tip(
            choice.home,
            choice.away,
            detail
            | {
                "tip": "expected_points",
                "expected_points": round(choice.expected_points, 4),
                "assumed_quotas": [round(q, 3) for q in choice.quotas],
                "field_size": _field_size(context),
            },
        )


class DixonColesPredictor(_DistributionPredictor):
    provider = "dixon_coles"
    version = "dixon-coles-3"  # stored as Prediction.prompt_version; bump when the model changes
    param_type = dixon_coles.DixonColesParams
    fit_function = staticmethod(dixon_coles.fit)


class EloPredictor(_DistributionPredictor):
    provider = "elo"
    version = "elo-3"
    param_type = elo.EloParams
    fit_function = staticmethod(elo.fit)


class FixedScorePredictor:
    """Always the same tip (2-1 home by default): the classic tipping baseline."""

    version = "fixed-score-1"

    def __init__(self, config: Mapping | None = None) -> None:
        config = dict(config or {})
        _reject_unknown(config, {"home", "away"}, "fixed_score")
        self.home, self.away = _goals(config, "home", 2), _goals(config, "away", 1)

    def predict(self, context: MatchContext) -> Tip:
        return Tip(self.home, self.away, {"provider": "fixed_score"})


class MostFrequentPredictor:
    """The commonest scoreline of the league history before kickoff."""

    version = "most-frequent-1"

    def __init__(self, config: Mapping | None = None) -> None:
        config = dict(config or {})
        _reject_unknown(config, {"fallback_home", "fallback_away"}, "most_frequent")
        self.fallback = (_goals(config, "fallback_home", 1), _goals(config, "fallback_away", 1))

    def predict(self, context: MatchContext) -> Tip:
        results = [r for r in _history(context) if r.level == 0]
        home, away = most_frequent_score(results, self.fallback)
        return Tip(home, away, {"provider": "most_frequent", "history_matches": len(results)})
