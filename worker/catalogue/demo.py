"""What the built-in demo presets share: toy limits that run in seconds on a small CPU, toy
memory needs, and a label that says plainly what their videos are.

A demo preset is its family's real pipeline class built by that family's builder at tiny scale
with seeded random weights (as `tiny` is), so every task of the studio can be tried end to end
on a machine with no downloaded weights. Their output is coloured noise. FRAMECRAFT_DEMO_MODELS
turns them off (install.demo_models_enabled).
"""

from __future__ import annotations

from typing import Any

from .base import MemoryNeeds

# Square, landscape and portrait: enough shapes to reframe between. Multiples of 32, so that
# LTX's 32x spatial compression and Wan's 8x VAE times 2x patches both divide them.
DEMO_SIZES = ((128, 128), (160, 96), (96, 160))

# What a toy-sized build needs: next to nothing, so any CPU or GPU takes it (`tiny` too).
TOY_MEMORY = MemoryNeeds(
    transformer_gb=0.01,
    text_encoder_gb=0.01,
    other_gb=0.01,
    activation_gb=0.1,
    decode_gb=0.2,
    tiled_decode_gb=0.1,
    blocks=2,
    step_s=0.01,
)

# Limits of every demo preset but the frame step (its family's latent frame stride).
DEMO_LIMITS: dict[str, Any] = {
    "source": None,
    "builtin": True,
    "default_width": 128,
    "default_height": 128,
    "sizes": DEMO_SIZES,
    "max_frames": 33,
    "default_frames": 17,
    "default_steps": 4,
    "max_steps": 50,
    "max_input_frames": 33,
    "fps": 8,
    "parallelism": None,
    "takes_loras": False,
    "memory": TOY_MEMORY,
}


def demo_label(what: str) -> str:
    """The label people read: a demo, for which task, and that its output is noise."""
    return f"Demo · {what}: random weights, noise-like output"


def demo_description(architecture: str) -> str:
    return (f"A toy-sized {architecture} with random weights, built on the worker in a second "
            "so that this task can be tried on any machine. Its videos are coloured noise; an "
            "admin installs the real model for real results.")
