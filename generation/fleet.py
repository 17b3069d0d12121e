"""The GPU workers as the database knows them, and the queues that reach them.

Each worker process reports itself (queues, GPUs, their memory, models held warm, current job)
every few seconds; claims read it so that a small GPU leaves a job that it could only run slowly
to a bigger one that is idle, and so that jobs planned for a group of GPUs go to such a group
(`claim_scope`). A drained worker node (`drain`) finishes its job and claims no more. Job
queues are GPU classes named in settings (`FRAMECRAFT_JOB_QUEUES`); every class gets a hint
for every job, and each worker claims only what it can run, so a hint never strands a job on a
worker that cannot take it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from statistics import median
from typing import Any

from django.conf import settings
from django.utils import timezone

from generation.models import Job, JobStatus, Video, WorkerDrain, WorkerState, node_of
from worker.catalogue import CATALOGUE
from worker.catalogue.planning import size_share, speedup
from worker.catalogue.speed import eta_s as speed_eta
from worker.catalogue.speed import gpu_name_has_fp8


def job_queues() -> list[str]:
    """Every GPU class hears of every job; a worker that cannot run it leaves it alone."""
    return list(settings.FRAMECRAFT_JOB_QUEUES)


def report(name: str, *, queues: list[str], gpu_name: str, gpu_total_gb: float,
           loaded: list[str], gpu_count: int = 1,
           gpu_memory: list[dict[str, float]] | None = None) -> None:
    """A worker says it is alive, and what it has."""
    WorkerState.objects.update_or_create(name=name, defaults={
        "queues": queues, "gpu_name": gpu_name, "gpu_total_gb": gpu_total_gb,
        "gpu_count": gpu_count, "gpu_memory": gpu_memory or [], "loaded": loaded,
        "seen_at": timezone.now()})


def working_on(name: str, job_id: uuid.UUID | None) -> None:
    WorkerState.objects.filter(name=name).update(job_id=job_id, seen_at=timezone.now())


def gone(name: str) -> None:
    WorkerState.objects.filter(name=name).delete()


def alive() -> list[WorkerState]:
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    return list(WorkerState.objects.filter(seen_at__gte=cutoff))


def fp8_offered() -> bool:
    """Whether a live worker's GPU has fp8 (by its name; the worker checks the real thing)."""
    return any(gpu_name_has_fp8(worker.gpu_name) for worker in alive() if worker.gpu_name)


def drain(node_or_name: str) -> str:
    """Tell a worker node to finish its job and take no more; returns the node drained."""
    node = node_of(node_or_name)
    WorkerDrain.objects.get_or_create(node=node)
    return node


def undrain(node_or_name: str) -> bool:
    return WorkerDrain.objects.filter(node=node_of(node_or_name)).delete()[0] > 0


def is_draining(name: str) -> bool:
    return WorkerDrain.objects.filter(node=node_of(name)).exists()


def draining_nodes() -> set[str]:
    return set(WorkerDrain.objects.values_list("node", flat=True))


def claim_scope(name: str, gpus: int) -> tuple[int, int | None]:
    """Which jobs, by their planned GPU count, a worker with `gpus` GPUs may take now:
    (least, most), most None for no bound.

    Its own count always. Smaller jobs too, unless a live worker with fewer GPUs is idle (a
    group is kept for jobs worth it). Bigger jobs only while no live worker has more GPUs than
    this one (a small worker runs them slowly rather than never).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    others = (WorkerState.objects.filter(seen_at__gte=cutoff).exclude(name=name)
              .values_list("name", "gpu_count", "job_id"))
    drained = draining_nodes()
    live = [(count, job_id is None) for other, count, job_id in others
            if node_of(other) not in drained]
    least = gpus if any(count < gpus and idle for count, idle in live) else 1
    biggest = max((count for count, _ in live), default=0)
    return least, (gpus if biggest > gpus else None)


def bigger_idle_worker(name: str, gpu_total_gb: float) -> bool:
    """Whether another live worker with more GPU memory has nothing to do."""
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    return WorkerState.objects.filter(
        seen_at__gte=cutoff, job__isnull=True, gpu_total_gb__gt=gpu_total_gb,
    ).exclude(name=name).exists()


# --- How long jobs take, as measured on the workers that run them ---------------------------

# The catalogue's step times were measured on one H200 (DESIGN.md): they stand for that GPU
# until jobs there have been measured, and for no other.
CATALOGUE_GPU = "H200"
# The finished jobs of a preset that an estimate is made from, newest first.
MEASURED_JOBS = 20
# A load faster than this found the model warm in the worker's cache.
WARM_LOAD_S = 0.5


@dataclass(frozen=True)
class WorkerKind:
    """A class of worker as an estimate cares about: its GPU's name ("" for a CPU worker)."""

    gpu_name: str

    def __str__(self) -> str:
        return self.gpu_name or "CPU"

    @property
    def is_catalogue_gpu(self) -> bool:
        return CATALOGUE_GPU in self.gpu_name.upper()


def kind_of(worker: WorkerState) -> WorkerKind:
    return WorkerKind(worker.gpu_name if worker.gpu_total_gb else "")


@dataclass(frozen=True)
class Measured:
    """What the finished jobs of one preset took on one kind of worker (medians): denoising
    against the catalogue's prediction for the same job (the factor that turns a prediction
    into an estimate for this kind), a load that found the model cold (None: every load was
    warm), and the work around denoising: the prompt's encoding before, decoding and storing
    the video after."""

    denoise_ratio: float
    cold_load_s: float | None
    encode_s: float
    finish_s: float
    jobs: int


def predicted_denoise_s(preset_id: str, params: Mapping[str, Any], gpus: int = 1
                        ) -> float | None:
    """The catalogue's denoising time for a job (its speed mode at its size, over the GPUs the
    planner gave it), in H200 seconds; None for params it cannot read."""
    preset = CATALOGUE.get(preset_id)
    if preset is None:
        return None
    try:
        mode = speed_eta(preset, params.get("speed") or "quality", int(params["steps"]),
                         float(params["guidance"]), fp8=bool(params.get("fp8")))
        share = size_share(preset, int(params["width"]), int(params["height"]),
                           int(params["num_frames"]))
    except (KeyError, TypeError, ValueError):
        return None
    return mode * share / speedup(preset, gpus)


def _measure(preset_id: str, kind: WorkerKind) -> Measured | None:
    """The preset's timings on this kind of worker, from its latest finished jobs there (their
    video's recipe names the GPU that made it); None before one has finished.

    Read from the videos, newest first, down `video_measure_idx` (preset, recipe's GPU,
    created): about MEASURED_JOBS rows for any kind, however long the history. Walking the
    preset's jobs by `finished_at` (no index) read every one of them on each studio page,
    and a kind that ran few of the preset's jobs would still walk all the others.
    """
    rows = (Video.objects.filter(preset=preset_id, recipe__gpu=kind.gpu_name,
                                 job__status=JobStatus.SUCCEEDED)
            .order_by("-created_at")
            .values_list("job__params", "job__timings", "job__gpus")[:MEASURED_JOBS])
    ratios, cold, encode, finish = [], [], [], []
    for params, timings, gpus in rows:
        try:
            denoise = float(timings["denoise_s"])
            load = float(timings.get("load_s", 0.0))
            encode.append(float(timings.get("encode_s", 0.0)))
            finish.append(float(timings.get("decode_s", 0.0)) + float(timings.get("store_s", 0.0)))
        except (KeyError, TypeError, ValueError):
            continue
        predicted = predicted_denoise_s(preset_id, params, gpus)
        if predicted:
            ratios.append(denoise / predicted)
        if load >= WARM_LOAD_S:
            cold.append(load)
    if not ratios:
        return None
    return Measured(denoise_ratio=median(ratios), cold_load_s=median(cold) if cold else None,
                    encode_s=median(encode), finish_s=median(finish), jobs=len(ratios))


def _last_to_finish(preset_id: str, kinds: list[WorkerKind]) -> WorkerKind | None:
    """Of these kinds, the one whose newest video of the preset is the newest: one probe of
    `video_measure_idx` per kind (one ordered query over them all sorted every video the
    kinds had made of the preset)."""
    newest: dict[WorkerKind, Any] = {}
    for kind in kinds:
        made = (Video.objects.filter(preset=preset_id, recipe__gpu=kind.gpu_name)
                .order_by("-created_at").values_list("created_at", flat=True).first())
        if made is not None:
            newest[kind] = made
    return max(newest, key=newest.__getitem__) if newest else None


class Estimator:
    """Time estimates for jobs, each on the kind of worker that runs it, from what finished
    jobs measured there. It reads the fleet and each preset's measurements once, so a list of
    cards costs the same few queries however long it is: make one per page or message."""

    def __init__(self) -> None:
        self._workers: dict[str, WorkerState] | None = None
        self._measured: dict[tuple[str, WorkerKind], Measured | None] = {}
        self._last_kind: dict[str, WorkerKind | None] = {}

    def workers(self) -> dict[str, WorkerState]:
        if self._workers is None:
            self._workers = {w.name: w for w in WorkerState.objects.all()}
        return self._workers

    def live_kinds(self) -> list[WorkerKind]:
        """The kinds of the live workers, biggest GPU first (an idle big GPU takes what a
        small one leaves), each once."""
        cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
        kinds: list[WorkerKind] = []
        live = [w for w in self.workers().values() if w.seen_at >= cutoff]
        for worker in sorted(live, key=lambda w: -w.gpu_total_gb):
            if (kind := kind_of(worker)) not in kinds:
                kinds.append(kind)
        return kinds

    def measured(self, preset_id: str, kind: WorkerKind | None) -> Measured | None:
        if kind is None:
            return None
        if (preset_id, kind) not in self._measured:
            self._measured[preset_id, kind] = _measure(preset_id, kind)
        return self._measured[preset_id, kind]

    def kind_for(self, job: Job) -> WorkerKind | None:
        """The kind of worker that runs the job: its own while running; while it waits, the
        live kind that last finished one of its preset (else the first). None: no worker."""
        if job.worker and (worker := self.workers().get(job.worker)) is not None:
            return kind_of(worker)
        kinds = self.live_kinds()
        if len(kinds) > 1:
            if job.preset not in self._last_kind:
                self._last_kind[job.preset] = _last_to_finish(job.preset, kinds)
            return self._last_kind[job.preset] or kinds[0]
        return kinds[0] if kinds else None

    def denoise_s(self, preset_id: str, params: Mapping[str, Any], kind: WorkerKind | None,
                  gpus: int = 1) -> float | None:
        """Denoising time on this kind of worker: the catalogue's prediction scaled by what
        the kind measured; the catalogue's own figure only on the GPU it was measured on.
        None (say "estimating") when nothing is known for this kind."""
        if kind is None:
            return None
        predicted = predicted_denoise_s(preset_id, params, gpus)
        if predicted is None:
            return None
        found = self.measured(preset_id, kind)
        if found is not None:
            return predicted * found.denoise_ratio
        return predicted if kind.is_catalogue_gpu else None

    def run_s(self, job: Job) -> float | None:
        """How long a waiting job will run once claimed (load, encode, denoise, decode,
        store) on the kind of worker that will run it; None before such a job was measured."""
        kind = self.kind_for(job)
        found = self.measured(job.preset, kind)
        denoise = self.denoise_s(job.preset, job.params or {}, kind, job.gpus)
        if found is None or denoise is None:
            return None
        load = 0.0 if self._warm_somewhere(job.preset, kind) else found.cold_load_s or 0.0
        return load + found.encode_s + denoise + found.finish_s

    def _warm_somewhere(self, preset_id: str, kind: WorkerKind | None) -> bool:
        """Whether a live worker of this kind holds the model loaded (it skips the load)."""
        cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
        return any(kind_of(w) == kind and w.seen_at >= cutoff and preset_id in (w.loaded or [])
                   for w in self.workers().values())

    def left_s(self, job: Job) -> float | None:
        """Time left of a running job. Denoising: its own average step so far for the steps
        left, and the measured decode and store. Before its first step (loading the model):
        what loading and the rest took on its worker's kind, less the time it has run. None, to
        say "estimating", without a measurement or once the job is past what it predicts."""
        step, total = job.progress_step, job.progress_total
        denoised = (job.timings or {}).get("denoise_elapsed_s")
        kind = self.kind_for(job)
        found = self.measured(job.preset, kind)
        if step and total and denoised is not None:
            if step >= total:
                return None  # decoding and storing: short, and no step to time it by
            left = float(denoised) / step * (total - step)
            return left + (found.finish_s if found is not None else 0.0)
        denoise = self.denoise_s(job.preset, job.params or {}, kind, job.gpus)
        if found is None or denoise is None or job.started_at is None:
            return None
        worker = self.workers().get(job.worker)
        warm = worker is not None and job.preset in (worker.loaded or [])
        ahead = (0.0 if warm else found.cold_load_s or 0.0) + found.encode_s
        ran = (timezone.now() - job.started_at).total_seconds()
        if ran > ahead:
            return None  # slower than measured: no figure rather than a wrong one
        return ahead - ran + denoise + found.finish_s
