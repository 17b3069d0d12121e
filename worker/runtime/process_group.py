"""This process's place in a multi-GPU group, and a pipeline split over it.

One process per GPU of a host, joined through torch.distributed's env:// rendezvous (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, as torchrun sets them): NCCL for the model's
tensors on GPUs, gloo for control messages and for everything on a CPU (tests). The pipeline
cache splits each freshly loaded denoiser here; running jobs in lockstep over the group is
worker.runtime.parallel's. Django-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from worker.catalogue import ErrorCode, GenerationError, Preset

from .devices import DEVICE_ENV

logger = logging.getLogger("framecraft.worker")

# A rank that waits longer than this in a collective gives up, so a hung group gets restarted.
COLLECTIVE_TIMEOUT = timedelta(minutes=15)


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
