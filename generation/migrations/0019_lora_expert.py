"""Per-expert LoRAs (issue 20): a LoRA input names the experts of a two-expert model (Wan 2.2
A14B: high noise, low noise) it goes into; every existing row goes into both, as it ran."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("generation", "0018_web_tier_at_scale"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobinput",
            name="expert",
            field=models.CharField(
                choices=[("both", "Both experts"), ("high_noise", "High-noise expert only"),
                         ("low_noise", "Low-noise expert only")],
                default="both",
                help_text="Which experts of a two-expert model (Wan 2.2 A14B) a LoRA goes into.",
                max_length=16),
        ),
    ]
