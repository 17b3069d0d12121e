from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.CharField(max_length=280, blank=True)
    max_active_jobs = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Jobs this user may have waiting or running at once; empty for the site default.",
    )
    storage_quota_mb = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Megabytes of uploads this user may store; empty for the site default.",
    )

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def active_job_limit(self) -> int:
        if self.max_active_jobs is not None:
            return self.max_active_jobs
        return settings.FRAMECRAFT_MAX_ACTIVE_JOBS

    @property
    def storage_quota_bytes(self) -> int:
        quota = self.storage_quota_mb
        if quota is None:
            quota = settings.FRAMECRAFT_STORAGE_QUOTA_MB
        return quota * 1024 * 1024
