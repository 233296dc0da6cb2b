from django.apps import AppConfig


class ChaosConfig(AppConfig):
    """The chaos demo (an entry point: it drives the pipeline and the backfill, both)."""

    name = "chaos"
    verbose_name = "chaos demo"
