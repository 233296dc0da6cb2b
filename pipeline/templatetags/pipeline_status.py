"""The admin index's warning when the live pipeline has not ticked for PIPELINE_STALE_AFTER."""

from django import template
from django.conf import settings
from django.utils import timezone

from pipeline.models import PipelineState

register = template.Library()


@register.simple_tag
def pipeline_stale_warning() -> str:
    """Empty when the pipeline ticked recently; judged by the wall clock of its last tick."""
    state = PipelineState.objects.filter(pk=1).first()
    if state is None or state.ticked_at is None:
        return "The live pipeline has never run: start rqcron config.cron or run_pipeline."
    idle = timezone.now() - state.ticked_at
    if idle < settings.PIPELINE_STALE_AFTER:
        return ""
    minutes = int(idle.total_seconds() // 60)
    return (f"The live pipeline is stale: no tick for {minutes} minutes (last at "
            f"{state.ticked_at:%Y-%m-%d %H:%M} UTC). Matches are not being predicted before kickoff.")
