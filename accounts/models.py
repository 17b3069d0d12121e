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


class ApiKey(models.Model):
    """A key that acts as its owner on the REST API. Only a prefix (to find it) and a SHA-256
    of the whole key are stored; the key itself is shown once, when it is made."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
