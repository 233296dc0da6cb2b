from django.apps import AppConfig


class BackfillConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backfill"
