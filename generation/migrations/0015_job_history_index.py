import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The owner's own index, by the name Django gave it (AlterField with db_index=False leaves a
# foreign key's index in place, so it is dropped by name).
OWNER_INDEX = "generation_job_owner_id_b4d82a01"


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0014_gallery_at_scale'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='job',
                    name='owner',
                    field=models.ForeignKey(db_index=False,
                                            on_delete=django.db.models.deletion.CASCADE,
                                            related_name='jobs', to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {OWNER_INDEX}",
                    f"CREATE INDEX IF NOT EXISTS {OWNER_INDEX} ON generation_job (owner_id)"),
            ],
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['owner', '-created_at', '-id'], name='job_history_idx'),
        ),
    ]
