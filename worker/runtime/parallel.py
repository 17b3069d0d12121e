"""One job over several GPUs of a host: a persistent process group, one process per GPU.

Every rank loads the model once (into its own cache, on its own GPU) and splits the denoiser's
sequence over the group with diffusers context parallelism (Ulysses where the head count
divides the group, Ulysses "anything" otherwise). Rank 0 leads: it broadcasts each job's
request, runs the pipeline with the others, and after every step broadcasts whether to go on,
so a cancel read on rank 0 stops every rank at the same step. Only rank 0 decodes.

The ranks meet through torch.distributed's env:// rendezvous (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT, as torchrun sets them): NCCL for the model's tensors on GPUs, gloo
for control messages and for everything on a CPU (tests). Django-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from worker.catalogue import (
    ErrorCode,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    JobCancelled,
    Preset,
    StepInfo,
)

from .cache import DEVICE_ENV, PIPELINES, PipelineCache
from .runner import run_generation

logger = logging.getLogger("framecraft.worker")

# A rank that waits longer than this in a collective gives up, so a hung group gets restarted.
COLLECTIVE_TIMEOUT = timedelta(minutes=15)
# The exit status of a rank whose group can no longer run jobs together: its supervisor
# (worker.group) restarts the whole group.
BROKEN_EXIT = 70


class GroupBroken(RuntimeError):
    """The ranks left a job at different points: collectives no longer pair up."""


@dataclass
class Group:
    """This process's place in the group."""

    rank: int
    size: int
    device: torch.device
    control: Any  # a gloo process group for control messages
    broken: bool = False
    # Per rank, after the last job: GPU memory now and at its peak (memory_report).
    memory: list[dict[str, float]] | None = None

    @property
    def leader(self) -> bool:
        return self.rank == 0


_group: Group | None = None


def current() -> Group | None:
    """The group this process belongs to; None in a one-GPU worker."""
    return _group


def start_from_env() -> Group:
    """Join the group described by torchrun's environment variables; set this rank's device."""
    global _group
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    wanted = os.environ.get(DEVICE_ENV, "")
    on_gpu = torch.cuda.is_available() and not wanted.startswith("cpu")
    if on_gpu:
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "cpu:gloo,cuda:nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    os.environ[DEVICE_ENV] = str(device)  # where select_device() places this rank's pipelines
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=size,
                            timeout=COLLECTIVE_TIMEOUT)
    control = dist.new_group(backend="gloo", timeout=COLLECTIVE_TIMEOUT)
    _group = Group(rank=rank, size=size, device=device, control=control)
    logger.info("rank %d of %d joined the group on %s", rank, size, device)
    return _group


def stop() -> None:
    global _group
    if dist.is_initialized():
        dist.destroy_process_group()
    _group = None


def context_parallel_config(heads: int, gpus: int) -> Any:
    """Ulysses over the whole group where the heads divide it; else Ulysses "anything", which
    takes any head count and sequence length (ring attention would too, at a lower speed: it
    passes every key and value chunk around the ring instead of one all-to-all)."""
    from diffusers import ContextParallelConfig

    if heads % gpus == 0:
        return ContextParallelConfig(ulysses_degree=gpus)
    return ContextParallelConfig(ulysses_degree=gpus, ulysses_anything=True)


@contextmanager
def _cpu_as_one_device() -> Iterator[None]:
    # diffusers places a rank on device `rank % torch.accelerator.device_count()`, which is a
    # division by zero where the accelerator is the CPU (count 0): there is one CPU device.
    if torch.accelerator.device_count() > 0:
        yield
        return
    count = torch.accelerator.device_count
    torch.accelerator.device_count = lambda: 1
    try:
        yield
    finally:
        torch.accelerator.device_count = count


def parallelize(pipeline: Any, preset: Preset) -> bool:
    """Split a freshly placed pipeline's denoiser over the group (no-op outside one); whether
    it was split."""
    group = current()
    if group is None or group.size == 1:
        return False
    heads = preset.parallelism.heads if preset.parallelism else None
    transformer = getattr(pipeline, "transformer", None)
    if heads is None or transformer is None or getattr(transformer, "_cp_plan", None) is None:
        raise GenerationError(
            ErrorCode.MODEL_ERROR,
            f"{preset.label} cannot run on {group.size} GPUs at once; run it on a one-GPU worker.")
    with _cpu_as_one_device():
        transformer.enable_parallelism(config=context_parallel_config(heads, group.size))
    return True


def _broadcast(group: Group, value: Any = None) -> Any:
    box = [value]
    dist.broadcast_object_list(box, src=0, group=group.control)
    return box[0]


@dataclass(frozen=True)
class _Job:
    request: GenerationRequest


@dataclass(frozen=True)
class _Quit:
    pass


class _Lockstep:
    """Where a rank is in a job: whether a collective may be half-done if it fails now."""

    def __init__(self, cache: PipelineCache, preset_id: str) -> None:
        self.forwards = 0
        self.steps = 0
        self.total = 0
        self.stopped = False  # left at a step boundary, every rank told
        self._hook = None
        loaded = cache.get_loaded(preset_id) if preset_id in cache else None
        transformer = getattr(getattr(loaded, "pipeline", None), "transformer", None)
        if isinstance(transformer, torch.nn.Module):
            self._hook = transformer.register_forward_pre_hook(self._forward)

    def _forward(self, module: Any, args: Any) -> None:
        self.forwards += 1

    def close(self) -> None:
        if self._hook is not None:
            self._hook.remove()

    def clean(self) -> bool:
        """Whether every rank left the job at the same point: before the denoiser ran, at a
        step boundary all were told of, or after the last step (decoding has no collectives)."""
        return self.forwards == 0 or self.stopped or (self.total > 0 and self.steps >= self.total)


def run(request: GenerationRequest, on_step: Callable[[StepInfo], None],
        cache: PipelineCache = PIPELINES) -> GenerationResult:
    """Run a job on this worker: alone, or as the leader of its group.

    The leader's `on_step` (progress, the cancel read) decides for every rank: whatever it
    raises is raised on the leader after the others were told to stop at this same step.
    A failure that leaves ranks mid-collective marks the group broken (`exit_if_broken`).
    """
    group = current()
    if group is None or group.size == 1:
        return run_generation(request, on_step, cache)
    if group.broken:
        raise GroupBroken("this process group is being restarted")
    # Sent before loading: every rank loads its copy at the same time, so a group's first job
    # waits for one load, not one per rank.
    _broadcast(group, _Job(request))
    _ensure_loaded(request, cache)
    _reset_peak()
    lockstep = _Lockstep(cache, request.preset_id)

    def lead(info: StepInfo) -> None:
        lockstep.steps, lockstep.total = info.step, info.total
        try:
            on_step(info)
        except BaseException:
            lockstep.stopped = True
            _broadcast(group, False)
            raise
        _broadcast(group, True)

    try:
        return run_generation(request, lead, cache)
    except BaseException as error:
        if lockstep.clean():
            raise
        group.broken = True
        logger.error("rank 0 left a job mid-step: the group must restart")
        # Most likely another rank died (gloo says so at once; NCCL hangs until the supervisor
        # ends this process): a crash, so the job is re-queued, not failed.
        raise GroupBroken(f"a rank of this {group.size}-GPU group stopped mid-step "
                          f"({error})") from None
    finally:
        lockstep.close()
        if not group.broken:
            group.memory = _gather_memory(group)


def _ensure_loaded(request: GenerationRequest, cache: PipelineCache) -> None:
    # Each rank loads its own copy (no collectives); the step hook needs the pipeline.
    try:
        cache.get_loaded(request.preset_id)
    except GenerationError:
        pass  # run_generation raises it again, on every rank alike
    except KeyError:
        pass


def follow(cache: PipelineCache = PIPELINES) -> None:
    """A follower rank's life: run every job the leader broadcasts, in step with it, until it
    says quit. A failure the leader cannot have met at the same point ends the process, so
    that the supervisor restarts the group."""
    group = current()
    assert group is not None and not group.leader
    while True:
        message = _broadcast(group)
        if isinstance(message, _Quit):
            return
        _follow_job(group, message.request, cache)
        _gather_memory(group)


def _follow_job(group: Group, request: GenerationRequest, cache: PipelineCache) -> None:
    _ensure_loaded(request, cache)
    _reset_peak()
    lockstep = _Lockstep(cache, request.preset_id)

    def follow_step(info: StepInfo) -> None:
        lockstep.steps, lockstep.total = info.step, info.total
        if not _broadcast(group):
            lockstep.stopped = True
            raise JobCancelled()

    try:
        run_generation(request, follow_step, cache, decode=False)
    except JobCancelled:
        logger.info("rank %d stopped at step %d with the leader", group.rank, lockstep.steps)
    except GenerationError as error:
        if not lockstep.clean():
            logger.error("rank %d failed mid-step: %s", group.rank, error)
            os._exit(BROKEN_EXIT)
        logger.info("rank %d: the job failed on this rank too: %s", group.rank, error)
    except BaseException:
        logger.exception("rank %d crashed", group.rank)
        os._exit(BROKEN_EXIT)
    finally:
        lockstep.close()


def _gather_memory(group: Group) -> list[dict[str, float]]:
    reports: list[Any] = [None] * group.size if group.leader else []
    dist.gather_object(memory_report(), reports if group.leader else None, dst=0,
                       group=group.control)
    return [item for report in reports for item in (report or [])]


def quit_followers() -> None:
    """The leader tells the other ranks to leave `follow` (a clean shutdown)."""
    group = current()
    if group is not None and group.leader and not group.broken and group.size > 1:
        _broadcast(group, _Quit())


def exit_if_broken() -> None:
    """Called by the leader between jobs: a broken group ends, for its supervisor to restart."""
    group = current()
    if group is not None and group.broken:
        logging.shutdown()
        os._exit(BROKEN_EXIT)


def _reset_peak() -> None:
    # Each job's peak is what the fleet table shows per GPU.
    if torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def memory_report() -> list[dict[str, float]]:
    """This process's GPU memory now and at its peak, in GiB (empty on a CPU)."""
    if not torch.cuda.is_initialized():
        return []
    device = torch.cuda.current_device()
    return [{"gpu": device, "allocated_gb": round(torch.cuda.memory_allocated(device) / 2**30, 2),
             "peak_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)}]
