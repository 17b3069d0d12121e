from typing import cast

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.timezone import localtime

from accounts.models import User
from generation import fleet, lifecycle
from generation import queue_admin as queue_admin  # registers the Queue page
from generation.formatting import ago
from generation.models import (
    ACTIVE_STATUSES,
    Job,
    ModelAction,
    ModelOperation,
    Video,
    WorkerState,
)
from webapp.celery import app as celery_app
from worker.catalogue import INSTALLABLE, HelperModel, Preset

# Queues whose workers do not write WorkerState rows (they hold no GPU models to schedule by).
_UNREPORTED_QUEUES = (settings.CELERY_MODELS_QUEUE, settings.CELERY_HOUSEKEEPING_QUEUE)


def device_summary(state: WorkerState) -> str:
    """"CPU" for a worker without a GPU (it reports 0 GB), else the GPUs and their memory."""
    if not state.gpu_total_gb:
        return "CPU"
    count = f"{state.gpu_count} × " if state.gpu_count > 1 else ""
    each = " each" if state.gpu_count > 1 else ""
    return f"{count}{state.gpu_name or 'GPU'}, {state.gpu_total_gb:.0f} GB{each}"


def _pinged_workers() -> dict[str, list[str]]:
    """Every Celery worker that answers within a moment, with the queues it consumes: the
    models and housekeeping workers are seen here only. Empty if the broker is unreachable."""
    try:
        answers = celery_app.control.inspect(timeout=0.5).active_queues() or {}
    except Exception:  # an admin page never fails for the broker; it says nobody answered
        return {}
    return {node: sorted(queue["name"] for queue in queues)
            for node, queues in sorted(answers.items())}


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


def _model_actions(builtin: bool, installed: bool) -> list[tuple[str, str]]:
    """The buttons that apply to a model: a built-in one is made in code and has none; an
    absent one can only be installed; an installed one verified or removed."""
    if builtin:
        return []
    wanted = (ModelAction.VERIFY, ModelAction.REMOVE) if installed else (ModelAction.INSTALL,)
    return [(action.value, action.label) for action in wanted]


def _state(model: Preset | HelperModel) -> str:
    return "built in" if model.builtin else "installed" if model.is_installed() else \
        "not installed"


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
        rows = []
        for preset in INSTALLABLE.values():
            installed = preset.is_installed()
            rows.append({"preset": preset, "installed": installed,
                         "path": preset.installed_path(),
                         "actions": _model_actions(preset.builtin, installed),
                         "busy": any(op.preset == preset.id and op.status in ACTIVE_STATUSES
                                     for op in operations)})
        return render(request, "admin/generation/models.html", {
            **self.admin_site.each_context(request), "title": "Models", "rows": rows,
            "operations": operations,
            "can_run": self.has_add_permission(request), "opts": self.model._meta,
            "refresh": any(op.status in ACTIVE_STATUSES for op in operations),
        })

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        preset, action = request.POST.get("preset", ""), request.POST.get("action", "")
        model = INSTALLABLE.get(preset)
        if model is None or action not in ModelAction.values:
            self.message_user(request, "Unknown model or action.", messages.ERROR)
        elif action not in dict(_model_actions(model.builtin, model.is_installed())):
            self.message_user(request, f"{model.label} is {_state(model)}: "
                              f"{ModelAction(action).label.lower()} does not apply.",
                              messages.ERROR)
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
    """The job workers as they last reported: what each has and what it is doing; drain one
    (finish its job, take no more) or let it take jobs again. The workers of the models and
    housekeeping queues do not report here; the page asks them for a ping instead."""

    change_list_template = "admin/generation/workerstate/change_list.html"
    list_display = ("name", "queue_names", "device", "memory", "models", "doing", "draining",
                    "heartbeat")
    fields = ("name", "queue_names", "device", "memory", "models", "doing", "started_at",
              "heartbeat")
    readonly_fields = fields
    actions = ("drain", "undrain")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkerState]:
        return super().get_queryset(request).select_related("job")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None
                        ) -> HttpResponse:
        self._drained = fleet.draining_nodes()
        reporting = {state.node for state in WorkerState.objects.all()}
        return super().changelist_view(request, {
            **(extra_context or {}),
            "unreported": [(node, queues) for node, queues in _pinged_workers().items()
                           if node not in reporting],
            "unreported_queues": _UNREPORTED_QUEUES})

    @admin.display(boolean=True)
    def draining(self, state: WorkerState) -> bool:
        drained = getattr(self, "_drained", None)
        return state.node in (drained if drained is not None else fleet.draining_nodes())

    @admin.display(description="queues")
    def queue_names(self, state: WorkerState) -> str:
        return ", ".join(state.queues or []) or "—"

    @admin.display(description="device")
    def device(self, state: WorkerState) -> str:
        return device_summary(state)

    @admin.display(description="models loaded")
    def models(self, state: WorkerState) -> str:
        # Ids, as the Models page and fetch_model name them.
        return ", ".join(state.loaded or []) or "none"

    @admin.display(description="current job")
    def doing(self, state: WorkerState) -> str:
        job = state.job
        if job is None:
            return "idle"
        step = f", step {job.progress_step}/{job.progress_total}" if job.progress_total else ""
        return (f"{job.preset} "
                f"{job.params.get('width')}×{job.params.get('height')}{step} ({job.id})")

    @admin.display(description="GPU memory now / peak")
    def memory(self, state: WorkerState) -> str:
        if not state.gpu_total_gb:
            return "—"
        return " · ".join(f"{gpu.get('allocated_gb', 0):.1f} / {gpu.get('peak_gb', 0):.1f} GiB"
                          for gpu in state.gpu_memory or []) or "—"

    @admin.display(description="last heartbeat", ordering="seen_at")
    def heartbeat(self, state: WorkerState) -> str:
        # Workers beat every few seconds: count seconds, where "just now" would hide a stall.
        seconds = (timezone.now() - state.seen_at).total_seconds()
        when = f"{seconds:.0f} s ago" if seconds < 120 else ago(state.seen_at)
        return f"{when} ({localtime(state.seen_at):%H:%M:%S})"

    @admin.action(description="Drain: finish the current job, take no more")
    def drain(self, request: HttpRequest, queryset: QuerySet[WorkerState]) -> None:
        nodes = sorted({fleet.drain(state.name) for state in queryset})
        self.message_user(request, f"Drained {', '.join(nodes)}.", messages.SUCCESS)

    @admin.action(description="Undrain: take jobs again")
    def undrain(self, request: HttpRequest, queryset: QuerySet[WorkerState]) -> None:
        undrained = sum(fleet.undrain(state.name) for state in {s.node: s for s in queryset}
                        .values())
        lifecycle.top_up_hints(fleet.job_queues())  # the hints it dropped while drained
        self.message_user(request, f"{undrained} worker node(s) take jobs again.",
                          messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
