"""Loading helper models (depth, pose, video segmentation) from their installed folders,
kept warm in a small cache so that a preview and the job after it load them once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from worker.catalogue import ErrorCode, GenerationError, HelperModel

# Helpers are small (25 M to 90 M parameters); two warm is enough for a preview then a job.
CACHE_SIZE = 2
_loaded: OrderedDict[tuple[str, str, str], tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()


def default_device() -> Any:
    from worker.runtime.cache import select_device

    return select_device()


def load_helper(helper: HelperModel, device: Any = None) -> tuple[Any, Any]:
    """(model in eval mode on `device`, its image processor or None), loaded from the folder
    the catalogue finds; GenerationError(weights_missing) when it is not installed."""
    import torch
    import transformers

    device = torch.device(device) if device is not None else default_device()
    folder = helper.installed_path()
    if folder is None:
        raise GenerationError(
            ErrorCode.WEIGHTS_MISSING,
            f"{helper.label} is not installed; an admin installs it on the Models page "
            f"(or: manage.py fetch_model {helper.id}).")
    key = (helper.id, str(folder), str(device))
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        model = getattr(transformers, helper.model_class).from_pretrained(folder)
        model = model.to(device).eval().requires_grad_(False)
        processor = None
        if helper.purpose != "segmentation":
            processor = transformers.AutoImageProcessor.from_pretrained(folder)
        _loaded[key] = (model, processor)
        while len(_loaded) > CACHE_SIZE:
            _loaded.popitem(last=False)
        return model, processor


def forget_all() -> None:
    """Drop every warm helper, and hand their GPU memory back to the driver."""
    with _lock:
        _loaded.clear()
    from worker.runtime.cache import free_memory

    free_memory()
