"""The plain result history the statistical models fit on (no Django here)."""

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from matches.services.leak_guard import LeakError, assert_results_known_before
from predictions.providers.base import PredictionFailed


@dataclass(frozen=True, slots=True)
class Result:
    """One finished match; team ids are opaque so the maths works on any key."""

    date: datetime
    home_id: Hashable
    away_id: Hashable
    home_goals: int
    away_goals: int
    level: int = 0  # divisions below the league predicted: 1 = its second tier (rates promoted teams)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def results_from_history(rows: Iterable[Mapping], *, before: datetime | None = None) -> list[Result]:
    """Parse ``analysis["history"]`` rows, oldest first.

    ``before`` is the kickoff being predicted: every row must be a result known
    before it (the leak guard's rule: kicked off at least RESULT_KNOWN_AFTER
    earlier); any other row is a leak of the future into the model, so it fails
    loudly instead of being used.
    """
    results = []
    for index, row in enumerate(rows):
        try:
            result = Result(
                date=_aware(datetime.fromisoformat(str(row["date"]))),
                home_id=row["home_id"],
                away_id=row["away_id"],
                home_goals=int(row["home_goals"]),
                away_goals=int(row["away_goals"]),
                level=int(row.get("level", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PredictionFailed(f"history row {index} is malformed: {exc!r}") from None
        if result.home_goals < 0 or result.away_goals < 0 or result.level < 0:
            raise PredictionFailed(f"history row {index} has negative goals or level")
        results.append(result)
    if before is not None:
        try:
            assert_results_known_before([r.date for r in results], _aware(before), what="history row")
        except LeakError as exc:
            raise PredictionFailed(f"leak guard: {exc}") from None
    results.sort(key=lambda r: r.date)
    return results
