"""Control tracks for motion and structure transfer (Wan VACE's control video): the source's
depth, body pose, edges, greyscale or optical flow, one image per frame, drawn the way VACE's
own annotators draw them, so that VACE keeps the motion and layout and repaints the rest.

Django-free. numpy at import; OpenCV, torch and transformers inside the functions that use them.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from worker.catalogue import HelperModel
from worker.catalogue.helpers import CONTROL_KINDS, helper_for

__all__ = ["CONTROL_KINDS", "ControlError", "make_control_track"]
# VACE's Canny annotator thresholds.
CANNY_LOW, CANNY_HIGH = 100, 200
# Frames per forward of a helper model: bounded memory at any clip length.
BATCH = 8
# Pose keypoints below this confidence are not drawn (as OpenPose renderings leave them out).
KEYPOINT_THRESHOLD = 0.3
# People found with less confidence are left out; at most this many are drawn per frame.
PERSON_THRESHOLD = 0.5
MAX_PEOPLE = 6


class ControlError(ValueError):
    """A control track that cannot be made from what was given, said for people."""


def make_control_track(kind: str, frames: np.ndarray, *, device: Any = None,
                       helper: HelperModel | None = None) -> np.ndarray:
    """The control track of `kind` for uint8 RGB `frames` (F, H, W, 3): uint8, same shape.
    `helper` replaces the installed depth or pose model (the pose track's person detector is
    always the installed one)."""
    if kind not in CONTROL_KINDS:
        raise ControlError(f"Unknown control kind {kind!r}; kinds are "
                           f"{', '.join(CONTROL_KINDS)}.")
    if not (isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4
            and frames.shape[-1] == 3 and frames.shape[0] >= 1):
        shape = getattr(frames, "shape", None)
        raise ControlError(f"Control tracks are made from uint8 RGB frames (F, H, W, 3); "
                           f"got {shape}.")
    if kind == "grey":
        return greyscale(frames)
    if kind == "canny":
        return edges(frames)
    if kind == "flow":
        return optical_flow(frames)
    if kind == "depth":
        return depth(frames, helper or helper_for("depth"), device)
    return pose(frames, helper or helper_for("pose"), helper_for("people"), device)


def _grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _three(channel: np.ndarray) -> np.ndarray:
    return np.repeat(channel[..., None], 3, axis=-1)


def greyscale(frames: np.ndarray) -> np.ndarray:
    return np.stack([_three(_grey(frame)) for frame in frames])


def edges(frames: np.ndarray) -> np.ndarray:
    """White edges on black."""
    import cv2

    return np.stack([_three(cv2.Canny(frame, CANNY_LOW, CANNY_HIGH)) for frame in frames])


def optical_flow(frames: np.ndarray) -> np.ndarray:
    """Dense Farneback flow from each frame to the next on the flow colour wheel (hue is the
    direction, saturation the speed); the first frame shows the first step's flow."""
    import cv2

    greys = [_grey(frame) for frame in frames]
    if len(greys) == 1:
        return np.full_like(frames, 255)
    images = [
        flow_to_colour(cv2.calcOpticalFlowFarneback(
            before, after, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
            poly_n=5, poly_sigma=1.2, flags=0))
        for before, after in itertools.pairwise(greys)
    ]
    return np.stack([images[0], *images])


def _colour_wheel() -> np.ndarray:
    """The Middlebury flow colour wheel (Baker et al. 2007), as RAFT and VACE draw flow."""
    segments = ((15, (255, 0, 0), (255, 255, 0)), (6, (255, 255, 0), (0, 255, 0)),
                (4, (0, 255, 0), (0, 255, 255)), (11, (0, 255, 255), (0, 0, 255)),
                (13, (0, 0, 255), (255, 0, 255)), (6, (255, 0, 255), (255, 0, 0)))
    parts = [np.linspace(start, end, count, endpoint=False) for count, start, end in segments]
    return np.concatenate(parts).astype(np.float64)


_WHEEL = _colour_wheel()


def flow_to_colour(flow: np.ndarray) -> np.ndarray:
    """(H, W, 2) flow → (H, W, 3) uint8, normalised by this frame's largest motion."""
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    radius = np.sqrt(u**2 + v**2)
    scale = radius.max()
    if scale > 0:
        u, v, radius = u / scale, v / scale, radius / scale
    angle = np.arctan2(-v, -u) / np.pi
    position = (angle + 1) / 2 * (len(_WHEEL) - 1)
    low = np.floor(position).astype(int)
    high = (low + 1) % len(_WHEEL)
    weight = (position - low)[..., None]
    colour = ((1 - weight) * _WHEEL[low] + weight * _WHEEL[high]) / 255.0
    # Still pixels are white; the faster, the more saturated.
    colour = 1 - radius[..., None] * (1 - colour)
    return np.clip(np.floor(255 * colour), 0, 255).astype(np.uint8)


def depth(frames: np.ndarray, helper: HelperModel, device: Any = None) -> np.ndarray:
    """Relative depth, near is bright, normalised over the whole clip (per-frame scaling
    would make the track flicker as objects come and go)."""
    import torch

    from worker.editing.helpers import load_helper

    model, processor = load_helper(helper, device)
    height, width = frames.shape[1:3]
    maps = []
    with torch.inference_mode():
        for start in range(0, len(frames), BATCH):
            batch = list(frames[start:start + BATCH])
            inputs = processor(images=batch, return_tensors="pt").to(model.device)
            predicted = model(pixel_values=inputs["pixel_values"].to(model.dtype)).predicted_depth
            resized = torch.nn.functional.interpolate(
                predicted[:, None].float(), size=(height, width), mode="bicubic",
                align_corners=False)[:, 0]
            maps.append(resized.cpu())
    clip = torch.cat(maps)
    low, high = clip.min(), clip.max()
    scaled = (clip - low) / (high - low) if high > low else torch.zeros_like(clip)
    grey = (scaled * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return _three(grey)


# OpenPose's 18 body points, as COCO's 17 keypoints give them (the neck is between the
# shoulders), and its limbs and colours: VACE's pose control is this drawing.
_OPENPOSE_FROM_COCO = (0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
          (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
_COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
            (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
            (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
            (255, 0, 255), (255, 0, 170), (255, 0, 85))


def people_boxes(frames: np.ndarray, detector: HelperModel, device: Any = None
                 ) -> list[list[list[float]]]:
    """Per frame, the boxes (x, y, width, height in pixels) of the people the detector finds,
    most confident first."""
    import torch

    from worker.editing.helpers import load_helper

    model, processor = load_helper(detector, device)
    person = next(int(i) for i, name in model.config.id2label.items() if name == "person")
    height, width = frames.shape[1:3]
    found: list[list[list[float]]] = []
    with torch.inference_mode():
        for start in range(0, len(frames), BATCH):
            batch = list(frames[start:start + BATCH])
            inputs = processor(images=batch, return_tensors="pt").to(model.device)
            outputs = model(pixel_values=inputs["pixel_values"].to(model.dtype))
            results = processor.post_process_object_detection(
                outputs, target_sizes=[(height, width)] * len(batch),
                threshold=PERSON_THRESHOLD)
            for result in results:
                keep = (result["labels"] == person).nonzero().flatten().tolist()
                keep.sort(key=lambda i: -float(result["scores"][i]))
                boxes = []
                for index in keep[:MAX_PEOPLE]:
                    left, top, right, bottom = (float(v) for v in result["boxes"][index])
                    boxes.append([left, top, right - left, bottom - top])
                found.append(boxes)
    return found


def pose(frames: np.ndarray, helper: HelperModel, detector: HelperModel, device: Any = None
         ) -> np.ndarray:
    """Every person's skeleton on black, OpenPose style: people found by the detector, their
    keypoints by ViTPose within each box; a frame with nobody in it stays black."""
    import torch

    from worker.editing.helpers import load_helper

    boxes = people_boxes(frames, detector, device)
    model, processor = load_helper(helper, device)
    drawings = np.zeros_like(frames)
    with_people = [index for index, found in enumerate(boxes) if found]
    with torch.inference_mode():
        for start in range(0, len(with_people), BATCH):
            chosen = with_people[start:start + BATCH]
            batch, batch_boxes = [frames[i] for i in chosen], [boxes[i] for i in chosen]
            inputs = processor(images=batch, boxes=batch_boxes, return_tensors="pt")
            outputs = model(pixel_values=inputs["pixel_values"].to(model.device, model.dtype))
            estimated = processor.post_process_pose_estimation(outputs, boxes=batch_boxes)
            for index, people in zip(chosen, estimated, strict=True):
                for person in people:
                    draw_skeleton(person["keypoints"].cpu().numpy(),
                                  person["scores"].cpu().numpy(), drawings[index])
    return drawings


def draw_skeleton(keypoints: np.ndarray, scores: np.ndarray, canvas: np.ndarray) -> None:
    """Draw one person's COCO keypoints (17, 2) in pixels, with their scores, on `canvas`
    (H, W, 3) the way OpenPose draws a body."""
    import cv2

    points: list[tuple[float, float] | None] = []
    for coco in _OPENPOSE_FROM_COCO:
        if coco == -1:  # the neck
            ok = min(scores[5], scores[6]) >= KEYPOINT_THRESHOLD
            points.append(tuple((keypoints[5] + keypoints[6]) / 2) if ok else None)
        else:
            ok = scores[coco] >= KEYPOINT_THRESHOLD
            points.append((float(keypoints[coco][0]), float(keypoints[coco][1])) if ok else None)
    height, width = canvas.shape[:2]
    person = np.zeros_like(canvas)
    stick = max(1, round(4 * max(height, width) / 512))
    for index, (a, b) in enumerate(_LIMBS):
        first, second = points[a], points[b]
        if first is None or second is None:
            continue
        (x0, y0), (x1, y1) = first, second
        length = float(np.hypot(x0 - x1, y0 - y1))
        angle = float(np.degrees(np.arctan2(y0 - y1, x0 - x1)))
        polygon = cv2.ellipse2Poly((int((x0 + x1) / 2), int((y0 + y1) / 2)),
                                   (int(length / 2), stick), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(person, polygon, _COLOURS[index])
    person = (person * 0.6).astype(np.uint8)  # limbs dimmer than joints, as OpenPose draws
    for index, point in enumerate(points):
        if point is not None:
            cv2.circle(person, (int(point[0]), int(point[1])), stick, _COLOURS[index], -1)
    np.maximum(canvas, person, out=canvas)
