"""Compiled transformer blocks beneath group offload's hooks.

Regional compile (`compile_repeated_blocks`) compiles a block's whole call, hooks included.
Under block-level group offload every block carries its own hook object, so Dynamo guards on
each one and recompiles per block until its limit, then runs the rest eager (measured on an
H200: Quality under group offload took 1.37x its compiled all-on-GPU time). Here the block's
own `forward` is swapped for a switch *before* the offload hooks wrap it: the hooks stay eager
Python around it, and what the switch compiles is the block's arithmetic alone, one graph that
all blocks of a class share, as on the GPU.

Leaf-level offload puts its hooks on the layers inside a block, so nothing in a block is free of
them: those plans run eager.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any


class SwitchableForward:
    """A block's forward that runs eager until `compile` is called, then compiled unless
    switched off (Balanced's step cache runs eager, as on the GPU)."""

    def __init__(self, forward: Callable[..., Any]) -> None:
        functools.update_wrapper(self, forward)
        self.__signature__ = inspect.signature(forward)
        self.eager = forward
        self.compiled: Callable[..., Any] | None = None
        self.on = True
        self.compiled_calls = 0  # how often the compiled code ran: what tests look for

    def compile(self, **options: Any) -> None:
        import torch

        if self.compiled is None:
            self.compiled = torch.compile(self.eager, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.on and self.compiled is not None:
            self.compiled_calls += 1
            return self.compiled(*args, **kwargs)
        return self.eager(*args, **kwargs)


def repeated_blocks(transformer: Any) -> Iterator[Any]:
    """The submodules `compile_repeated_blocks` would compile."""
    names = set(getattr(transformer, "_repeated_blocks", None) or ())
    return (module for module in transformer.modules() if type(module).__name__ in names)


def install_switches(transformer: Any) -> int:
    """Put a switch under each repeated block's forward; call before offload hooks are added.
    Returns how many blocks got one."""
    count = 0
    for block in repeated_blocks(transformer):
        # A block compiled whole before (`Module.compile`, on the GPU plan) would trace the
        # hooks from its compiled call: it gets its own code back, and compiles beneath them.
        block._compiled_call_impl = None
        if not isinstance(block.__dict__.get("forward"), SwitchableForward):
            block.forward = SwitchableForward(block.forward)
        count += 1
    return count


def switches(transformer: Any) -> list[SwitchableForward]:
    """The switches of a transformer's blocks (installed before its hooks, so found beneath
    them through the wrappers' `__wrapped__`)."""
    found = []
    for block in repeated_blocks(transformer):
        forward = block.__dict__.get("forward")
        while forward is not None and not isinstance(forward, SwitchableForward):
            forward = getattr(forward, "__wrapped__", None)
        if forward is not None:
            found.append(forward)
    return found
