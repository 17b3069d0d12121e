"""One job over several GPUs of a host, the ranks in lockstep.

Every rank loads the model once (into its own cache, on its own GPU), its denoiser split over
the group (worker.runtime.process_group). Rank 0 leads: it broadcasts each job's request, runs
the pipeline with the others, and after every step broadcasts whether to go on, so a cancel
read on rank 0 stops every rank at the same step. Only rank 0 decodes. Django-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from worker.catalogue import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    JobCancelled,
    StepInfo,
)

from .cache import PIPELINES, PipelineCache
from .process_group import Group, current, start_from_env, stop
from .runner import run_generation

logger = logging.getLogger("framecraft.worker")

# Joining and leaving the group are process_group's; the worker calls them through here.
__all__ = [
    "BROKEN_EXIT",
    "GroupBroken",
    "current",
    "exit_if_broken",
    "follow",
    "memory_report",
    "quit_followers",
    "run",
    "start_from_env",
    "stop",
]

# The exit status of a rank whose group can no longer run jobs together: its supervisor
# (worker.group) restarts the whole group.
BROKEN_EXIT = 70


class GroupBroken(RuntimeError):
    """The ranks left a job at different points: collectives no longer pair up."""


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
