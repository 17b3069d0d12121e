"""Any preset's pipeline with random weights, tiny or full size, built by its family's builder.

Tiny builds (a few MB) are the `tiny` preset itself and what the tests save in the Hub's folder
layout and load back through the production loader; full builds use the public architecture
numbers of each checkpoint, so the GPU benchmark measures what trained weights would cost without
downloading them. Both use exactly the classes the real checkpoints name in their
`model_index.json`. torch and diffusers are imported when a pipeline is built, never at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .base import Scale

if TYPE_CHECKING:
    import torch


@contextmanager
def _building(
    seed: int, device: str | torch.device | None, dtype: torch.dtype | None
) -> Iterator[None]:
    """Seeded weight init on `device` in `dtype` that leaves the caller's RNG alone."""
    import torch

    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.manual_seed_all(seed)
        try:
            if dtype is not None:
                torch.set_default_dtype(dtype)
            with torch.device(device or "cpu"):
                yield
        finally:
            torch.set_default_dtype(previous)


def _ready(module: torch.nn.Module, dtype: torch.dtype | None) -> torch.nn.Module:
    import torch

    module = module.eval().requires_grad_(False)
    if dtype is None:
        return module
    module = module.to(dtype)
    if dtype == torch.float32:
        return module
    # As from_pretrained does, some weights (timestep embedders, norms, modulation tables)
    # stay in fp32, matched by any part of the parameter's dotted name. diffusers keeps its
    # list for any lower dtype; transformers keeps `_keep_in_fp32_modules` only for fp16
    # (T5's `wo`) and `_keep_in_fp32_modules_strict` for fp16 and bf16.
    is_transformers = type(module).__module__.startswith("transformers.")
    keep = set(getattr(type(module), "_keep_in_fp32_modules_strict", None) or [])
    if not is_transformers or dtype == torch.float16:
        keep |= set(getattr(type(module), "_keep_in_fp32_modules", None) or [])
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and keep & set(name.split(".")):
            tensor.data = tensor.data.float()
    return module


def build_pipeline(
    preset_id: str,
    scale: Scale = "tiny",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Any:
    """The preset's pipeline class with random weights of the given scale.

    Full-size builds belong on a GPU (`device="cuda"`, `dtype=torch.bfloat16`): weights are
    initialised there, component by component, which takes seconds rather than minutes. The
    preset's fp32 components stay in float32.
    """
    import diffusers
    import torch

    from . import family_of, get_preset

    preset = get_preset(preset_id)
    with _building(seed, device, dtype):
        components = family_of(preset).build(preset.id, scale)
    for name, value in components.items():
        if isinstance(value, torch.nn.Module):
            wanted = torch.float32 if name in preset.fp32_components else dtype
            components[name] = _ready(value, None if dtype is None else wanted)
    pipeline = getattr(diffusers, preset.pipeline_class)(**components)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
