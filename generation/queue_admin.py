"""The admin's side of the queue: each person's weight in the fair share (their own pause
shown, theirs to change), and the maintenance hold of the whole queue, on one page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from generation import events, queue
from generation.models import JobStatus
from generation.queue_models import QueueMember


@admin.register(QueueMember)
class QueueMemberAdmin(admin.ModelAdmin):
    """"Queue": weights per person (2: two turns per round where others have one), whose queue
    is paused, and the button that pauses every worker's queue for maintenance."""

    change_list_template = "admin/generation/queuemember/change_list.html"
    list_display = ("user", "weight", "paused", "paused_at", "waiting")
    list_editable = ("weight",)
    list_filter = ("paused",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    fields = ("user", "weight", "paused", "paused_at")
    # A person pauses and resumes their own queue (the studio); the admin sees it.
    readonly_fields = ("paused", "paused_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueueMember]:
        return super().get_queryset(request).select_related("user").annotate(
            waiting_jobs=Count("user__jobs", filter=Q(user__jobs__status=JobStatus.QUEUED)))

    @admin.display(description="waiting jobs", ordering="waiting_jobs")
    def waiting(self, member: Any) -> int:
        return int(getattr(member, "waiting_jobs", 0))

    def save_model(self, request: HttpRequest, obj: QueueMember, form: Any, change: bool
                   ) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(events.queue_moved)  # places in the queue follow the weight

    def get_urls(self) -> list[URLPattern]:
        return [path("hold/", self.admin_site.admin_view(self.hold_view),
                     name="generation_queuemember_hold"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None
                        ) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}),
                                                 "hold": queue.held()})

    def hold_view(self, request: HttpRequest) -> HttpResponse:
        """Pause (with a reason people see) or resume the whole queue."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        if request.POST.get("action") == "hold":
            if queue.hold(request.user, request.POST.get("reason", "").strip()):
                self.message_user(request, "The queue is paused for maintenance: new jobs "
                                  "wait, running ones finish, workers start nothing.",
                                  messages.WARNING)
        elif queue.release():
            self.message_user(request, "The queue runs again.", messages.SUCCESS)
        return redirect("admin:generation_queuemember_changelist")
