"""The web tier at scale (issue 24): a stored tsvector of each video's prompt with its GIN
index (generation.gallery.search reads it: no to_tsvector per row), and the index the studio's
time estimates read (generation.fleet._measure: a preset's latest videos on one kind of GPU).

The tsvector is a generated column on PostgreSQL only, with no model field: the ORM never
reads or writes it. Adding it rewrites the videos table (about a minute per million rows,
under a lock that holds writes), once.
"""

import django.db.models.fields.json
from django.db import migrations, models

ADD_SEARCH_COLUMN = [
    "ALTER TABLE generation_video ADD COLUMN IF NOT EXISTS prompt_search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(prompt, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS video_prompt_tsv_idx ON generation_video "
    "USING GIN (prompt_search)",
    # The expression index of migration 0002 matched the per-row to_tsvector no query uses now.
    "DROP INDEX IF EXISTS video_prompt_search_idx",
]
DROP_SEARCH_COLUMN = [
    "CREATE INDEX IF NOT EXISTS video_prompt_search_idx ON generation_video "
    "USING GIN (to_tsvector('english'::regconfig, COALESCE(prompt, '')))",
    "ALTER TABLE generation_video DROP COLUMN IF EXISTS prompt_search",
]


def add_search_column(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in ADD_SEARCH_COLUMN:
            schema_editor.execute(statement)


def drop_search_column(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP_SEARCH_COLUMN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0017_soundtrack_kind'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='video',
            index=models.Index(
                models.F('preset'), django.db.models.fields.json.KeyTransform('gpu', 'recipe'),
                models.OrderBy(models.F('created_at'), descending=True),
                name='video_measure_idx'),
        ),
        migrations.RunPython(add_search_column, drop_search_column),
    ]
