"""Two-expert denoisers with one expert on the GPU: the expert-offload memory profile.

Wan 2.2 A14B denoises with a high-noise expert until its boundary step and a low-noise one
after it; only one runs at any step. Under this profile every other component is resident, and
so is the expert that runs; the other waits in pinned host memory. A forward pre-hook on each
expert brings it in when it is called: its tensors' data point at GPU copies of their host
copies, and the expert it replaces points back at its host copies (nothing is copied out, the
host copies are the weights). That is one copy of one expert per boundary, from pinned memory,
against model offload's copy of every component in and out per job.

LoRA slots are the exception: they are filled in place where they live (worker.runtime.loras),
so an expert's `lora_` tensors are copied back to the host when it is sent out, and tensors
added while an expert was resident (a LoRA's first load) get their host copy then.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.weak import WeakIdKeyDictionary

logger = logging.getLogger("framecraft.worker")

EXPERT_NAMES = ("transformer", "transformer_2")


def experts_of(pipeline: Any) -> list[tuple[str, torch.nn.Module]]:
    """The pipeline's denoisers that take turns, in the order they run (high noise first)."""
    return [(name, module) for name in EXPERT_NAMES
            if isinstance(module := getattr(pipeline, name, None), torch.nn.Module)]


def _tensors(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from module.named_parameters(remove_duplicate=False)
    yield from module.named_buffers(remove_duplicate=False)


class ExpertSwap:
    """Keeps at most one of `experts` on `device`; the others' weights in host memory."""

    def __init__(self, experts: Sequence[torch.nn.Module], device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.experts = list(experts)
        self.resident: torch.nn.Module | None = None
        self.swaps = 0  # experts brought in: what tests and the benchmark read
        # By identity (tensors compare by value), and gone with a deleted LoRA slot's tensors.
        self._host: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self._pin = self.device.type == "cuda"
        for expert in self.experts:
            for _, tensor in _tensors(expert):
                self._keep_on_host(tensor)
            expert.register_forward_pre_hook(self._before_forward)

    def _keep_on_host(self, tensor: torch.Tensor) -> None:
        host = tensor.data.to("cpu")
        if self._pin and not host.is_pinned():
            host = host.pin_memory()
        self._host[tensor] = host
        tensor.data = host

    def _before_forward(self, module: torch.nn.Module, args: Any) -> None:
        if module is not self.resident:
            self.bring(module)

    def bring(self, expert: torch.nn.Module) -> None:
        """Make `expert` the one on the device (the resident one goes back to the host)."""
        if self.resident is not None:
            self._send_out(self.resident)
        for _, tensor in _tensors(expert):
            host = self._host.get(tensor)
            if host is None:  # made since (a LoRA slot) on the host: its data is the copy
                self._keep_on_host(tensor)
                host = self._host[tensor]
            # A copy even on the CPU (where tests run it), so the host copy stays the weights.
            tensor.data = host.to(self.device, non_blocking=self._pin, copy=True)
        self.resident = expert
        self.swaps += 1

    def on_device(self, expert: torch.nn.Module) -> list[bool]:
        """For each of the expert's tensors, whether it runs on a device copy (not its host
        copy): all True for the resident expert, all False for the others."""
        return [self._host.get(tensor) is None
                or tensor.data.untyped_storage().data_ptr()
                != self._host[tensor].untyped_storage().data_ptr()
                for _, tensor in _tensors(expert)]

    def _send_out(self, expert: torch.nn.Module) -> None:
        for name, tensor in _tensors(expert):
            host = self._host.get(tensor)
            if host is None:
                self._keep_on_host(tensor)
                continue
            if ".lora_" in name:
                host.copy_(tensor.data)
            tensor.data = host


_SWAPS: weakref.WeakKeyDictionary[Any, ExpertSwap] = weakref.WeakKeyDictionary()


def expert_offload(pipeline: Any, device: torch.device | str) -> ExpertSwap | None:
    """Every component but the experts on `device`, the experts taking turns there. A pipeline
    of one denoiser goes on the device whole (None)."""
    experts = experts_of(pipeline)
    if len(experts) < 2:
        pipeline.to(device)
        return None
    names = {name for name, _ in experts}
    for name, component in pipeline.components.items():
        if isinstance(component, torch.nn.Module) and name not in names:
            component.to(device)
    swap = _SWAPS[pipeline] = ExpertSwap([module for _, module in experts], device)
    logger.info("expert offload: %s take turns on %s", ", ".join(sorted(names)), device)
    return swap


def swap_of(pipeline: Any) -> ExpertSwap | None:
    """The expert swap a pipeline was placed with, if any."""
    return _SWAPS.get(pipeline)
