"""What a user has used of the studio: shown on the profile, enforced when submitting."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Sum

from accounts.models import User


@dataclass(frozen=True)
class Usage:
    active_jobs: int
    active_job_limit: int
    videos: int
    bytes_stored: int
    uploads: int
    upload_bytes: int
    upload_quota_bytes: int

    @property
    def upload_bytes_free(self) -> int:
        return max(0, self.upload_quota_bytes - self.upload_bytes)


def usage_for(user: User) -> Usage:
    # Looked up through the app registry: generation depends on accounts, not the reverse.
    job_model = apps.get_model("generation", "Job")
    video_model = apps.get_model("generation", "Video")
    videos = video_model.objects.filter(owner=user)
    uploads = apps.get_model("generation", "Upload").objects.filter(owner=user)
    return Usage(
        active_jobs=job_model.objects.active().filter(owner=user).count(),
        active_job_limit=user.active_job_limit,
        videos=videos.count(),
        bytes_stored=videos.aggregate(total=Sum("size_bytes"))["total"] or 0,
        uploads=uploads.count(),
        upload_bytes=uploads.aggregate(total=Sum("size_bytes"))["total"] or 0,
        upload_quota_bytes=user.storage_quota_bytes,
    )
