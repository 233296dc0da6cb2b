"""What the chaos demo measures: the gaps, the predictions (pre-kickoff and retroactive apart), the checks."""

from datetime import datetime

from django.db.models import Count, F

from backfill.services.plan import BackfillPlan
from matches.models import Match
from pipeline.models import ReplayResult
from predictions.models import Prediction, PredictionModel


def results_held_back(plan, outage: tuple[datetime, datetime]) -> int:
    """Replayed matches whose final whistle fell while the result source was down."""
    return ReplayResult.objects.filter(match_id__in=plan.match_ids, ends_at__gte=outage[0],
                                       ends_at__lt=outage[1]).count()


def gaps(plan: BackfillPlan) -> dict:
    """The plan's gaps: matches, missing predictions by model, settlements due."""
    slugs = dict(PredictionModel.objects.values_list("pk", "slug"))
    names = {m.pk: f"{m.home_team.name} v {m.away_team.name}" for m in
             Match.objects.filter(pk__in=[g.match_id for g in plan.gaps]).select_related("home_team", "away_team")}
    return {
        "matches": len(plan.gaps),
        "missing_predictions": sum(len(g.missing_model_ids) for g in plan.gaps),
        "settlements": plan.count("settle"),
        "by_match": [{"match_id": g.match_id, "match": names[g.match_id], "status": g.status,
                      "missing_models": [slugs[pk] for pk in g.missing_model_ids], "stages": list(g.stages)}
                     for g in plan.gaps],
    }


def prediction_counts(match_ids) -> dict:
    """Predictions of the matchday: pre-kickoff and retroactive apart, and the two checks of honesty."""
    preds = Prediction.objects.filter(match_id__in=match_ids)
    return {
        "total": preds.count(),
        "pre_kickoff": preds.filter(is_retroactive=False).count(),
        "retroactive": preds.filter(is_retroactive=True).count(),
        "scored": preds.filter(status=Prediction.Status.SCORED).count(),
        # A row flagged pre-kickoff but written at or after kickoff, or the other way round: a lie.
        "misflagged": preds.filter(is_retroactive=False, created_at__gte=F("match__kickoff_time")).count()
        + preds.filter(is_retroactive=True, created_at__lt=F("match__kickoff_time")).count(),
        "duplicates": preds.values("match_id", "model_id").annotate(n=Count("id")).filter(n__gt=1).count(),
    }


def problems(outcome, plan) -> list[str]:
    """Everything that makes the demo fail: a gap left, a duplicate, a misflagged row, damage not done."""
    found = []
    counts = outcome.predictions
    if not counts:
        return ["the demo did not reach the backfill"]
    if outcome.gaps_after["matches"]:
        found.append(f"{outcome.gaps_after['missing_predictions']} prediction(s) and "
                     f"{outcome.gaps_after['settlements']} settlement(s) still missing after the backfill")
    if counts["duplicates"]:
        found.append(f"{counts['duplicates']} (match, model) pair(s) predicted twice")
    if counts["misflagged"]:
        found.append(f"{counts['misflagged']} prediction(s) flagged against their writer's clock")
    if counts["total"] != counts["scored"]:
        found.append(f"{counts['total'] - counts['scored']} prediction(s) not scored")
    if Match.objects.filter(pk__in=plan.match_ids).exclude(status=Match.Status.FINISHED).exists():
        found.append("a replayed match never finished")
    if not outcome.chaos["llm_failed"]["still_active"]:
        found.append("the failing LLM model was switched off by its circuit breaker; its gaps no longer count")
    if not outcome.gaps_before["matches"]:
        found.append("the damage left no gap: nothing for the backfill to show")
    if outcome.backfill.get("filled") != outcome.gaps_before["missing_predictions"]:
        found.append(f"the backfill filled {outcome.backfill.get('filled')} of "
                     f"{outcome.gaps_before['missing_predictions']} missing prediction(s)")
    return found
