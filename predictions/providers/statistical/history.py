"""The plain result history the statistical models fit on (no Django here)."""

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from predictions.providers.base import PredictionFailed


@dataclass(frozen=True, slots=True)
class Result:
    """One finished match; team ids are opaque so the maths works on any key."""

    date: datetime
    home_id: Hashable
    away_id: Hashable
    home_goals: int
    away_goals: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def results_from_history(rows: Iterable[Mapping], *, before: datetime | None = None) -> list[Result]:
    """Parse ``analysis["history"]`` rows, oldest first.

    ``before`` is the kickoff being predicted: a row dated at or after it is a
    leak of the future into the model, so it fails loudly instead of being used.
    """
    cutoff = _aware(before) if before is not None else None
    results = []
    for index, row in enumerate(rows):
        try:
            result = Result(
                date=_aware(datetime.fromisoformat(str(row["date"]))),
                home_id=row["home_id"],
                away_id=row["away_id"],
                home_goals=int(row["home_goals"]),
                away_goals=int(row["away_goals"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PredictionFailed(f"history row {index} is malformed: {exc!r}") from None
        if result.home_goals < 0 or result.away_goals < 0:
            raise PredictionFailed(f"history row {index} has negative goals")
        if cutoff is not None and result.date >= cutoff:
            raise PredictionFailed(f"history row {index} is dated {result.date.isoformat()}, not before kickoff")
        results.append(result)
    results.sort(key=lambda r: r.date)
    return results
