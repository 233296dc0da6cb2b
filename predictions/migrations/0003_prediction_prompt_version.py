from django.db import migrations, models


class Migration(migrations.Migration):
    """Rows made before prompts were versioned are named 'legacy'; new rows carry their own version."""

    dependencies = [
        ("predictions", "0002_gap_query_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="prompt_version",
            field=models.CharField(
                blank=True,
                db_index=True,
                default="legacy",
                help_text="The prompt template (LLMs) or model version (statistical) that produced it; "
                "rows from before versioning are 'legacy'",
                max_length=40,
            ),
            preserve_default=False,
        ),
    ]
