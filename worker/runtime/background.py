"""Background removal for subject photos: a segmentation checkpoint (the "background" helper
model of worker/catalogue/helpers.py) gives the subject's mask; the cutout is the subject on
white, framed on the suggested crop (the mask's bounding box with a margin). Django-free; torch
only inside."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Room around the subject in the suggested framing, as a share of its larger side.
MARGIN = 0.08
# The least share of the photo that must be subject for a cutout to mean anything.
MIN_SUBJECT_SHARE = 0.005
WHITE = (255, 255, 255)


class NoSubjectFound(ValueError):
    """The model found (almost) nothing but background."""


@dataclass(frozen=True)
class Cutout:
    image: Image.Image  # RGB, the subject on white, cropped to `crop`
    mask: Image.Image  # L, the whole photo's subject mask (255 = subject)
    crop: tuple[int, int, int, int]  # left, top, right, bottom in the photo's pixels


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, Any, int]:
    from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

    model = AutoModelForSemanticSegmentation.from_pretrained(folder).eval()
    processor = AutoImageProcessor.from_pretrained(folder)
    return model, processor, background_label(model.config.id2label)


def background_label(id2label: dict[Any, str]) -> int:
    """The class that is not the subject: the one named background, else class 0."""
    for index, name in id2label.items():
        if str(name).strip().lower() in ("background", "bg", "_background_"):
            return int(index)
    return 0


def subject_mask(image: Image.Image, folder: Path) -> np.ndarray:
    """The probability (0..1, H x W of the photo) that each pixel belongs to the subject."""
    import torch

    model, processor, background = _load(str(folder))
    inputs = processor(images=image.convert("RGB"), return_tensors="pt")
    with torch.inference_mode():
        logits = model(**inputs).logits
        logits = torch.nn.functional.interpolate(
            logits.float(), size=(image.height, image.width), mode="bilinear",
            align_corners=False)
        subject = 1.0 - logits.softmax(dim=1)[0, background]
    return subject.numpy()


def crop_from_mask(mask: np.ndarray, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The best framing of the subject: its bounding box, widened by `margin` of its larger
    side and kept inside the photo. Raises NoSubjectFound on an (almost) empty mask."""
    solid = mask >= 0.5
    if solid.mean() < MIN_SUBJECT_SHARE:
        raise NoSubjectFound("No subject stands out from the background in this photo.")
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad = round(max(bottom - top, right - left) * margin)
    height, width = mask.shape
    return (max(0, left - pad), max(0, top - pad), min(width, right + pad),
            min(height, bottom + pad))


def remove_background(image: Image.Image, folder: Path) -> Cutout:
    """The photo's subject on white, framed on the suggested crop."""
    image = image.convert("RGB")
    probability = subject_mask(image, folder)
    crop = crop_from_mask(probability)
    alpha = Image.fromarray(np.rint(np.clip(probability, 0, 1) * 255).astype(np.uint8), "L")
    white = Image.new("RGB", image.size, WHITE)
    composed = Image.composite(image, white, alpha)
    return Cutout(image=composed.crop(crop), mask=alpha, crop=crop)
