"""What the admin leaderboard draws: points per match over time per model, and geometry for inline SVG.

The trend reads the same scope as the table (one aggregated query per day
and model); the geometry is pure arithmetic, so the template only places
numbers and no script or external asset is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from predictions.leaderboard import Scope, counted_q, scoped_predictions

BUCKETS = 12
SPARK_W, SPARK_H, SPARK_PAD = 120, 36, 3
BAR_W, BAR_H = 180, 18


@dataclass(frozen=True)
class Trend:
    """A model's mean points per match in equal time buckets (None where it made no prediction)."""

    model_id: int
    means: list[float | None]
    points: str  # SVG polyline points
    dots: list[tuple[float, float]]


def daily_totals(scope: Scope, *, now: datetime) -> list[dict]:
    """Counted predictions and their points per model and kickoff day."""
    return list(
        scoped_predictions(scope, now=now).filter(counted_q(scope))
        .annotate(day=TruncDate("match__kickoff_time")).values("model_id", "day")
        .annotate(n=Count("*"), points=Sum("total_points")).order_by("day")
    )


def trends(daily: list[dict], *, buckets: int = BUCKETS) -> dict[int, Trend]:
    """Re-bin the daily totals into ``buckets`` equal spans of the scope's days, one polyline per model."""
    if not daily:
        return {}
    first: date = min(d["day"] for d in daily)
    last: date = max(d["day"] for d in daily)
    span = (last - first).days + 1
    buckets = max(1, min(buckets, span))
    sums: dict[int, list[list[int]]] = {}
    for d in daily:
        cells = sums.setdefault(d["model_id"], [[0, 0] for _ in range(buckets)])
        i = min(buckets - 1, (d["day"] - first).days * buckets // span)
        cells[i][0] += d["points"]
        cells[i][1] += d["n"]
    means = {pk: [p / n if n else None for p, n in cells] for pk, cells in sums.items()}
    top = max((m for series in means.values() for m in series if m is not None), default=1.0) or 1.0
    return {pk: _polyline(pk, series, top) for pk, series in means.items()}


def _polyline(model_id: int, means: list[float | None], top: float) -> Trend:
    step = (SPARK_W - 2 * SPARK_PAD) / max(1, len(means) - 1)
    dots = []
    for i, m in enumerate(means):
        if m is None:
            continue
        x = SPARK_PAD + (i * step if len(means) > 1 else (SPARK_W - 2 * SPARK_PAD) / 2)
        y = SPARK_H - SPARK_PAD - (SPARK_H - 2 * SPARK_PAD) * m / top
        dots.append((round(x, 1), round(y, 1)))
    return Trend(model_id=model_id, means=means, points=" ".join(f"{x},{y}" for x, y in dots), dots=dots)


def interval_scale(rows: list[dict]) -> float:
    """One axis for every row's bar, so overlapping intervals are seen to overlap."""
    highs = [r["ci95"][1] for r in rows if r["ci95"][1] is not None] + [r["mean_points"] for r in rows]
    return max(highs, default=1.0) * 1.05 or 1.0


def interval_bar(row: dict, scale: float) -> dict:
    """x positions (px) of the interval's ends and of the mean on a 0..scale axis."""
    def x(v: float) -> float:
        return round(max(0.0, min(v, scale)) / scale * BAR_W, 1)

    low, high = row["ci95"]
    if low is None or high is None:
        return {"low": None, "high": None, "width": 0, "mean": x(row["mean_points"])}
    return {"low": x(low), "high": x(high), "width": round(x(high) - x(low), 1), "mean": x(row["mean_points"])}
