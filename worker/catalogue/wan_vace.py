"""Wan 2.1 VACE (1.3B and 14B): one pipeline for every task, its inputs given as a control
video and a mask (what to keep, what to make) or as reference images.
"""

from __future__ import annotations

from typing import Any

from .base import HELPER_TASKS, Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter
from .demo import DEMO_LIMITS, demo_description, demo_label
from .figures import VACE_DECODE, decode_gb
from .media import fit, to_frames, to_image
from .request import GenerationRequest
from .wan import (
    WAN21_ENCODERS,
    WAN_480P,
    WAN_720P,
    WAN_COMMON,
    build_wan,
    wan_dims,
    wan_size,
)

# What both VACE presets share: Wan 2.1's limits, every task through one pipeline.
WAN_VACE_COMMON: dict[str, Any] = {
    **WAN_COMMON,
    "family": "wan_vace",
    "pipeline_class": "WanVACEPipeline",
    "abilities": frozenset(
        {Ability.TEXT, Ability.IMAGE, Ability.VIDEO, Ability.MASK, Ability.REFERENCE}
    ),
    "tasks": {task: "WanVACEPipeline" for task in Task if task not in HELPER_TASKS},
    "max_reference_images": 3,
    "max_input_frames": 81,
}
# VACE reads a mid-grey frame as "nothing here yet, generate it".
EMPTY = (127, 127, 127)

# The edit studio's tasks on any machine: masked edits (and swaps), reframing, extension,
# reference photos and motion transfer. Text and image to video are `tiny`'s and demo-i2v's.
DEMO_VACE = Preset(
    id="demo-vace",
    label=demo_label("edit, reframe, extend, subjects, swap, motion transfer (Wan VACE)"),
    description=demo_description("Wan 2.1 VACE"),
    **{**WAN_VACE_COMMON, **DEMO_LIMITS,
       "abilities": frozenset(
           {Ability.TEXT, Ability.VIDEO, Ability.MASK, Ability.REFERENCE}),
       "tasks": {task: "WanVACEPipeline" for task in
                 (Task.EDIT, Task.EXTEND, Task.PERSONALIZE, Task.CONTROL)}},
)
PRESETS = (
    Preset(
        id="wan2.1-vace-1.3b",
        label="Wan 2.1 VACE 1.3B (480p: create, edit, extend, personalize)",
        description=(
            "Wan 2.1 with VACE control: text to video, a start image, restyling or "
            "repainting a masked part of a video, extending a clip, or placing a subject "
            "from reference photos; 480p, 16 fps."
        ),
        **WAN_VACE_COMMON,
        source="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        default_width=832,
        default_height=480,
        sizes=WAN_480P,
        memory=MemoryNeeds(
            transformer_gb=4.1,  # 2.15 B parameters
            **WAN21_ENCODERS,
            activation_gb=3.1,  # 32,760 tokens and 15 VACE hints: traced 3.03 GiB
            decode_gb=decode_gb(832, 480, 81, **VACE_DECODE),  # 9.4; measured 9.3
            tiled_decode_gb=2.4,  # as Wan 2.1 T2V 1.3B, and the conditioning video
            blocks=30,
            step_s=2.02,  # measured on an H200 (docs/performance.md)
        ),
    ),
    Preset(
        id="wan2.1-vace-14b",
        label="Wan 2.1 VACE 14B (720p: create, edit, extend, personalize)",
        description=(
            "The large Wan 2.1 VACE model: text to video, a start image, editing, "
            "extension and reference-photo personalization at 720p or 480p, 16 fps."
        ),
        **WAN_VACE_COMMON,
        source="Wan-AI/Wan2.1-VACE-14B-diffusers",
        default_width=1280,
        default_height=720,
        sizes=(*WAN_720P, *WAN_480P),
        memory=MemoryNeeds(
            transformer_gb=32.4,  # 17.34 B parameters
            **WAN21_ENCODERS,
            # 75,600 tokens: traced 14.57 GiB, of which the 8 VACE hints are 5.8.
            activation_gb=15.0,
            decode_gb=decode_gb(1280, 720, 81, **VACE_DECODE),  # 21.7; measured 21.4
            tiled_decode_gb=5.6,  # as Wan 2.1 T2V 14B, and the conditioning video
            blocks=40,
            step_s=31.2,  # measured on an H200 (docs/performance.md)
        ),
    ),
    DEMO_VACE,
)


def build_wan_vace(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanVACETransformer3DModel

    components = build_wan(preset_id, scale)
    dims = wan_dims(scale, wan_size(preset_id))
    if scale == "tiny":
        vace_layers = [0]
    elif wan_size(preset_id) == "1.3b":
        vace_layers = list(range(0, 30, 2))
    else:
        vace_layers = list(range(0, 40, 5))
    components["transformer"] = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), in_channels=16, out_channels=16, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", vace_layers=vace_layers,
        vace_in_channels=96, **dims,
    )
    return components


class VaceCalls(CallAdapter):
    """Every task is a control video and a mask (grey frames and white mask where VACE is to
    make the video, the input's frames and a black mask where it keeps them), or reference
    images for personalization. Motion transfer gives a control track (depth, pose, edges,
    greyscale, flow) with an all-white mask, followed as strictly as `conditioning_scale`."""

    def inputs(
        self, task: Task, preset: Preset, request: GenerationRequest, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        from PIL import Image

        count, size = request.num_frames, (request.width, request.height)
        empty = Image.new("RGB", size, EMPTY)
        keep, repaint = Image.new("L", size, 0), Image.new("L", size, 255)
        if task == Task.T2V:
            return {}
        if task == Task.I2V:
            frames = [self.image(request, request.image, "start image")] + [empty] * (count - 1)
            return {"video": frames, "mask": [keep] + [repaint] * (count - 1)}
        if task == Task.V2V:
            return {"video": self.video(request)}
        if task == Task.CONTROL:
            # The whole frame is made anew, shaped by the control track (depth, pose, ...).
            return {"video": self.video(request), "mask": [repaint] * count,
                    "conditioning_scale": 1.0 if request.conditioning_scale is None
                    else request.conditioning_scale}
        if task == Task.EDIT:
            masks = [fit(m, *size) for m in to_frames(request.mask, "mask", mode="L")[:count]]
            masks = [m.point(lambda value: 255 if value else 0) for m in masks]
            edit: dict[str, Any] = {"video": self.video(request), "mask": masks}
            if request.reference_images:  # a swap: the masked part becomes the subject
                edit["reference_images"] = self.references(request)
            return edit
        if task == Task.EXTEND:
            given = self.video(request)
            rest = count - len(given)
            return {"video": given + [empty] * rest,
                    "mask": [keep] * len(given) + [repaint] * rest}
        # Personalization: the subject comes from the references, the rest from the prompt.
        return {"reference_images": self.references(request)}

    def references(self, request: GenerationRequest) -> list[Any]:
        return [to_image(ref, "reference image") for ref in request.reference_images]


FAMILY = Family(name="wan_vace", presets=PRESETS, build=build_wan_vace, calls=VaceCalls())
