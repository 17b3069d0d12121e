"""Media as the diffusers pipelines take them: PIL images at the job's size, lists of them for
videos and masks. They arrive decoded (PIL images or uint8 arrays).

numpy and PIL are imported when a call is made, never at import: the web tier imports the
catalogue and has no numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .request import ErrorCode, GenerationError

if TYPE_CHECKING:
    from PIL import Image


def bad(message: str) -> GenerationError:
    return GenerationError(ErrorCode.BAD_PARAMETERS, message)


def _is_array(value: Any) -> bool:
    # Not `import numpy` for a check: numpy arrays only come from callers that have numpy.
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def to_image(value: Any, what: str, mode: str = "RGB") -> Image.Image:
    """A PIL image in `mode` from a PIL image or a uint8 array."""
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.convert(mode)
    if _is_array(value):
        import numpy as np

        array = value
        if array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        if array.dtype != np.uint8:
            raise bad(f"The {what} must hold 8-bit pixels, not {array.dtype}.")
        if mode == "RGB" and not (array.ndim == 3 and array.shape[2] == 3):
            raise bad(f"The {what} must be shaped (height, width, 3), not {array.shape}.")
        if mode == "L" and array.ndim != 2:
            raise bad(f"The {what} must be shaped (height, width), not {array.shape}.")
        return Image.fromarray(array, mode=mode)
    raise bad(f"The {what} must be an image, not {type(value).__name__}.")


def to_frames(value: Any, what: str, mode: str = "RGB") -> list[Image.Image]:
    """A list of PIL images from a list of images or a (F, H, W[, 3]) uint8 array."""
    if _is_array(value):
        expected = 4 if mode == "RGB" else 3
        if value.ndim != expected:
            raise bad(f"The {what} must be an array of frames, not shaped {value.shape}.")
        return [to_image(frame, what, mode) for frame in value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_image(frame, what, mode) for frame in value]
    raise bad(f"The {what} must be a list of frames, not {type(value).__name__}.")


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to the job's size (media are checked for shape, not size: the form crops)."""
    from PIL import Image

    if image.size == (width, height):
        return image
    resample = Image.Resampling.NEAREST if image.mode == "L" else Image.Resampling.LANCZOS
    return image.resize((width, height), resample)


FIT_MODES = ("crop", "pad", "stretch")


def fit_image(image: Image.Image, width: int, height: int, mode: str = "crop",
              box: Sequence[int] | None = None) -> Image.Image:
    """The image at exactly width x height.

    `crop` cuts the largest centred region of the target's aspect ratio (or, given a box
    (left, top, right, bottom) in source pixels, that region, centre-cut to the aspect ratio
    if its own differs) and scales it; `pad` scales the whole image to fit inside and
    letterboxes it on black; `stretch` scales each axis on its own.
    """
    from PIL import Image

    if mode not in FIT_MODES:
        raise bad(f"Fit the image by one of {', '.join(FIT_MODES)}, not {mode!r}.")
    if width < 1 or height < 1:
        raise bad(f"Cannot fit an image into {width} × {height}.")
    resample = Image.Resampling.NEAREST if image.mode == "L" else Image.Resampling.LANCZOS
    if mode == "stretch":
        return image.resize((width, height), resample)
    if mode == "pad":
        scale = min(width / image.width, height / image.height)
        inner = (max(1, min(width, round(image.width * scale))),
                 max(1, min(height, round(image.height * scale))))
        canvas = Image.new(image.mode, (width, height), 0)
        canvas.paste(image.resize(inner, resample),
                     ((width - inner[0]) // 2, (height - inner[1]) // 2))
        return canvas
    if box is not None:
        left, top, right, bottom = (int(v) for v in box)
        if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
            raise bad(f"The crop box {tuple(box)} is not inside the "
                      f"{image.width} × {image.height} image.")
        image = image.crop((left, top, right, bottom))
    # The largest centred region of the target's aspect ratio.
    if image.width * height > width * image.height:  # wider than the target
        cut_w, cut_h = max(1, round(image.height * width / height)), image.height
    else:
        cut_w, cut_h = image.width, max(1, round(image.width * height / width))
    left, top = (image.width - cut_w) // 2, (image.height - cut_h) // 2
    region = image.crop((left, top, left + cut_w, top + cut_h))
    return region.resize((width, height), resample)
