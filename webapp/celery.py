"""The Celery application; its configuration lives in settings.py under CELERY_*."""

import importlib.util
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("framecraft")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The worker's tasks run models and import torch. The web image has no torch: its Celery
# processes (webhook deliveries and housekeeping, the scheduler) load only the other tasks.
app.autodiscover_tasks(["generation", "api", "storyboards"]
                       + (["worker"] if importlib.util.find_spec("torch") else []))
