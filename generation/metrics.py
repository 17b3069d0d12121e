"""`/metrics` for Prometheus: what an autoscaler needs to add or drain GPU workers.

Read from the database at each scrape (the Job rows and the workers' reports are the truth;
nothing is counted in a web process's memory, so every web process answers alike):

- `framecraft_queue_depth{gpus,preset}`: jobs waiting, by the GPU count the planner chose
  (the class of worker they want) and model;
- `framecraft_jobs_running{gpus}`;
- `framecraft_job_duration_seconds{gpus,preset}`: a histogram of finished jobs' run times;
- per worker: GPU count, GPU memory (allocated and peak, per GPU), seconds since its last
  report, busy and draining.

Off unless `FRAMECRAFT_METRICS_TOKEN` (a bearer token) or `FRAMECRAFT_METRICS_ALLOW` (client
addresses or networks) is set: a studio never exposes it by accident.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from generation import fleet
from generation.models import Job, JobStatus, WorkerState

# Seconds: a tiny job takes a few, a 14B job at 720p on one GPU most of an hour.
DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0)


class StudioCollector(Collector):
    def collect(self) -> Iterator[Any]:
        yield self._queue_depth()
        yield self._running()
        yield self._durations()
        yield from self._workers()

    def _queue_depth(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("framecraft_queue_depth",
                                   "Jobs waiting, by planned GPU count and model.",
                                   labels=["gpus", "preset"])
        rows = (Job.objects.filter(status=JobStatus.QUEUED).order_by()
                .values("gpus", "preset").annotate(count=Count("pk")))
        for row in rows:
            family.add_metric([str(row["gpus"]), row["preset"]], row["count"])
        return family

    def _running(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("framecraft_jobs_running", "Jobs running, by GPU count.",
                                   labels=["gpus"])
        rows = (Job.objects.filter(status=JobStatus.RUNNING).order_by()
                .values("gpus").annotate(count=Count("pk")))
        for row in rows:
            family.add_metric([str(row["gpus"])], row["count"])
        return family

    def _durations(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily("framecraft_job_duration_seconds",
                                       "Run time of succeeded jobs, claim to video.",
                                       labels=["gpus", "preset"])
        duration = ExpressionWrapper(F("finished_at") - F("started_at"),
                                     output_field=DurationField())
        buckets = {f"le_{index}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
                   for index, bound in enumerate(DURATION_BUCKETS)}
        rows = (Job.objects.filter(status=JobStatus.SUCCEEDED, started_at__isnull=False)
                .order_by().annotate(duration=duration).values("gpus", "preset")
                .annotate(count=Count("pk"), total=Sum("duration"), **buckets))
        for row in rows:
            found: dict[str, Any] = dict(row)
            counts = [(str(bound), float(found[f"le_{index}"]))
                      for index, bound in enumerate(DURATION_BUCKETS)]
            total = found["total"].total_seconds() if found["total"] else 0.0
            family.add_metric([str(found["gpus"]), found["preset"]],
                              [*counts, ("+Inf", float(found["count"]))], total)
        return family

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        drained = fleet.draining_nodes()
        gpus = GaugeMetricFamily("framecraft_worker_gpus", "GPUs one job of the worker runs on.",
                                 labels=["worker"])
        memory = GaugeMetricFamily("framecraft_worker_gpu_memory_bytes",
                                   "GPU memory of the worker's processes, per GPU.",
                                   labels=["worker", "gpu", "kind"])
        age = GaugeMetricFamily("framecraft_worker_last_report_age_seconds",
                                "Seconds since the worker last reported.", labels=["worker"])
        busy = GaugeMetricFamily("framecraft_worker_busy", "1 while the worker runs a job.",
                                 labels=["worker"])
        draining = GaugeMetricFamily("framecraft_worker_draining",
                                     "1 when the worker takes no more jobs.", labels=["worker"])
        for state in WorkerState.objects.all():
            name = state.name
            gpus.add_metric([name], state.gpu_count)
            for index, gpu in enumerate(state.gpu_memory or []):
                for kind in ("allocated", "peak"):
                    value = float(gpu.get(f"{kind}_gb", 0.0)) * 2**30
                    memory.add_metric([name, str(gpu.get("gpu", index)), kind], value)
            age.add_metric([name], (now - state.seen_at).total_seconds())
            busy.add_metric([name], 1 if state.job_id else 0)
            draining.add_metric([name], 1 if state.node in drained else 0)
        yield from (gpus, memory, age, busy, draining)


def _allowed(request: HttpRequest) -> bool:
    token, networks = settings.FRAMECRAFT_METRICS_TOKEN, settings.FRAMECRAFT_METRICS_ALLOW
    if not token and not networks:
        raise Http404  # off: no sign that the endpoint exists
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(),
                                                               token.encode()):
            return True
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network) for network in networks)
    return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        response = HttpResponse("Forbidden: a bearer token or an allowed address is required.",
                                status=403, content_type="text/plain")
        if settings.FRAMECRAFT_METRICS_TOKEN:
            response["WWW-Authenticate"] = "Bearer"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StudioCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
