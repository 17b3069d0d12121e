"""Masks that follow what the user clicked on through a clip: SAM 2's video model (through
transformers) prompted with points, corrected by further clicks on later frames.

Django-free. Frames are prepared here (resized to the model's square input, ImageNet
normalisation, as SAM 2's video processor does) so that tracking needs no torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from worker.catalogue import HelperModel
from worker.catalogue.helpers import helper_for

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OBJECT_ID = 1


class Click(NamedTuple):
    """A click on frame `frame` at pixel (x, y): on the subject (positive) or off it."""

    frame: int
    x: float
    y: float
    positive: bool = True


class TrackingError(ValueError):
    """Clicks or frames that cannot be tracked, said for people."""


def check_clicks(clicks: Sequence[Sequence[Any]], frames: int, height: int, width: int
                 ) -> list[Click]:
    """The clicks as `Click`s, or TrackingError naming the first one that is wrong."""
    if not clicks:
        raise TrackingError("Click on what the mask should follow.")
    checked = []
    for number, raw in enumerate(clicks, start=1):
        try:
            click = Click(int(raw[0]), float(raw[1]), float(raw[2]),
                          bool(raw[3]) if len(raw) > 3 else True)
        except (TypeError, ValueError, IndexError):
            raise TrackingError(f"Click {number} is not (frame, x, y, positive).") from None
        if not 0 <= click.frame < frames:
            raise TrackingError(f"Click {number} is on frame {click.frame}; the clip has "
                                f"frames 0 to {frames - 1}.")
        if not (0 <= click.x < width and 0 <= click.y < height):
            raise TrackingError(f"Click {number} at ({click.x:g}, {click.y:g}) is outside the "
                                f"{width} × {height} frame.")
        checked.append(click)
    if not any(click.positive for click in checked):
        raise TrackingError("Click at least once on the subject itself, not only around it.")
    return checked


def track_mask(frames: np.ndarray, clicks: Sequence[Sequence[Any]], *, device: Any = None,
               helper: HelperModel | None = None) -> np.ndarray:
    """(F, H, W) bool: the clicked subject on every frame of uint8 RGB `frames` (F, H, W, 3).

    The clicks of each frame prompt the model there; propagation runs from the first clicked
    frame to the end and, when that is not frame 0, back to the start. Clicks on later frames
    correct the track from there on.
    """
    import torch
    from transformers import Sam2VideoInferenceSession

    from worker.editing.helpers import load_helper

    if not (isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4
            and frames.shape[-1] == 3 and len(frames) >= 1):
        raise TrackingError(f"Masks are tracked on uint8 RGB frames (F, H, W, 3); got "
                            f"{getattr(frames, 'shape', None)}.")
    count, height, width = frames.shape[:3]
    checked = check_clicks(clicks, count, height, width)
    model, _ = load_helper(helper or helper_for("segmentation"), device)
    side = int(model.config.image_size)
    session = Sam2VideoInferenceSession(
        video=_prepared(frames, side, model.device, model.dtype), video_height=height,
        video_width=width, inference_device=model.device, inference_state_device=model.device,
        video_storage_device=model.device, dtype=model.dtype)
    masks = np.zeros((count, height, width), dtype=bool)
    by_frame: dict[int, list[Click]] = {}
    for click in checked:
        by_frame.setdefault(click.frame, []).append(click)
    with torch.inference_mode():
        object_index = session.obj_id_to_idx(OBJECT_ID)
        for frame, frame_clicks in sorted(by_frame.items()):
            points = torch.tensor([[[[c.x * side / width, c.y * side / height]
                                     for c in frame_clicks]]], dtype=torch.float32)
            labels = torch.tensor([[[int(c.positive) for c in frame_clicks]]],
                                  dtype=torch.int32)
            session.add_point_inputs(object_index, frame,
                                     {"point_coords": points, "point_labels": labels})
            session.remove_mask_inputs(object_index, frame)
            session.obj_with_new_inputs = [OBJECT_ID]
            model(inference_session=session, frame_idx=frame)
        first = min(by_frame)
        passes = [False, True] if first > 0 else [False]
        for reverse in passes:
            for output in model.propagate_in_video_iterator(
                    session, start_frame_idx=first, reverse=reverse):
                logits = torch.nn.functional.interpolate(
                    output.pred_masks[:1].float(), size=(height, width), mode="bilinear",
                    align_corners=False)
                masks[output.frame_idx] = (logits[0, 0] > 0).cpu().numpy()
    return masks


def _prepared(frames: np.ndarray, side: int, device: Any, dtype: Any) -> Any:
    """(F, 3, side, side): resized, scaled to 0..1 and normalised as SAM 2 was trained."""
    import torch

    video = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0
    video = torch.nn.functional.interpolate(video, size=(side, side), mode="bilinear",
                                            align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return ((video - mean) / std).to(dtype)
