from typing import cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from accounts.models import User
from generation import lifecycle
from generation.models import (
    ACTIVE_STATUSES,
    Job,
    ModelAction,
    ModelOperation,
    Video,
    WorkerState,
)
from webapp.celery import app as celery_app
from worker.catalogue import CATALOGUE, HELPERS, HelperModel, Preset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "preset", "status", "attempts", "worker",
                    "created_at", "finished_at")
    list_filter = ("status", "kind", "preset")
    search_fields = ("id", "owner__username", "params__prompt")
    readonly_fields = ("status", "status_sequence", "attempts", "worker", "heartbeat_at",
                       "started_at", "finished_at", "updated_at", "progress_step",
                       "progress_total", "error_code", "error_message", "timings")
    raw_id_fields = ("owner", "retry_of")
    actions = ("cancel_jobs",)

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = sum(lifecycle.cancel(job) for job in queryset)
        self.message_user(request, f"Cancelled {cancelled} job(s).", messages.SUCCESS)


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "width", "height", "frame_count", "size_bytes", "created_at")
    search_fields = ("id", "owner__username", "recipe__prompt")
    raw_id_fields = ("owner", "job")
    readonly_fields = ("recipe",)


@admin.register(ModelOperation)
class ModelsAdmin(admin.ModelAdmin):
    """The "Models" page: every preset, what is installed on the workers' volume, and buttons
    that ask a worker to install, verify or remove weights."""

    list_display = ("preset", "action", "status", "requested_by", "created_at")

    def get_urls(self) -> list[URLPattern]:
        return [
            path("run/", self.admin_site.admin_view(self.run_view),
                 name="generation_modeloperation_run"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None
                        ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        operations = list(ModelOperation.objects.select_related("requested_by")[:20])
        installables: list[Preset | HelperModel] = [*CATALOGUE.values(), *HELPERS.values()]
        rows = [{"preset": preset, "installed": preset.is_installed(),
                 "path": preset.installed_path(), "busy": any(
                     op.preset == preset.id and op.status in ACTIVE_STATUSES
                     for op in operations)}
                for preset in installables]
        return render(request, "admin/generation/models.html", {
            **self.admin_site.each_context(request), "title": "Models", "rows": rows,
            "operations": operations, "actions": ModelAction.choices,
            "can_run": self.has_add_permission(request), "opts": self.model._meta,
            "refresh": any(op.status in ACTIVE_STATUSES for op in operations),
        })

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        preset, action = request.POST.get("preset", ""), request.POST.get("action", "")
        if (preset not in CATALOGUE and preset not in HELPERS) or action not in ModelAction.values:
            self.message_user(request, "Unknown model or action.", messages.ERROR)
        else:
            with transaction.atomic():
                operation = ModelOperation.objects.create(preset=preset, action=action,
                                                          requested_by=cast(User, request.user))
                transaction.on_commit(lambda: celery_app.send_task(
                    "framecraft.model_operation", args=[operation.pk]))
            self.message_user(request, f"Asked a worker to {action} {preset}.",
                              messages.SUCCESS)
        return redirect("admin:generation_modeloperation_changelist")


@admin.register(WorkerState)
class WorkerStateAdmin(admin.ModelAdmin):
    """The GPU workers as they last reported: what each has and what it is doing."""

    list_display = ("name", "gpu_name", "gpu_total_gb", "queues", "loaded", "job", "seen_at")
    readonly_fields = ("name", "queues", "gpu_name", "gpu_total_gb", "loaded", "job",
                       "started_at", "seen_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
