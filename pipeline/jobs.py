"""The RQ job cron enqueues every minute: one tick at the real time."""

from pipeline.service import tick


def scheduled_tick() -> dict:
    return tick().to_dict()
