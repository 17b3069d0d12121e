from django.db import migrations, models

KINDS = [('t2v', 'Text to video'), ('i2v', 'Image to video'), ('v2v', 'Video to video'),
         ('edit', 'Video editing'), ('extend', 'Video extension'),
         ('personalize', 'Personalization'), ('control', 'Motion transfer'),
         ('upscale', 'Upscaling'), ('soundtrack', 'Sound added')]


class Migration(migrations.Migration):
    """Adding sound to a video: a job kind (and so a video kind) of its own."""

    dependencies = [
        ('generation', '0016_upscale_kind'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='kind',
            field=models.CharField(choices=KINDS, default='t2v', max_length=16),
        ),
        migrations.AlterField(
            model_name='video',
            name='kind',
            field=models.CharField(choices=KINDS, default='t2v', max_length=16),
        ),
    ]
