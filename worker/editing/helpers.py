"""Loading helper models (depth, pose, video segmentation) from their installed folders,
kept warm in a small cache so that a preview and the job after it load them once; and the
folder of a demo helper, written on first use."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker.catalogue import MODELS_DIR_ENV, ErrorCode, GenerationError, HelperModel
from worker.catalogue.helpers import save_helper
from worker.catalogue.install import model_complete

# Helpers are small (25 M to 90 M parameters); two warm is enough for a preview then a job.
CACHE_SIZE = 2
_loaded: OrderedDict[tuple[str, str, str], tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()


def default_device() -> Any:
    from worker.runtime.devices import select_device

    return select_device()


# Where demo helpers are written: beside installed models, out of the way of preset ids.
DEMO_DIR = ".demo"


def helper_folder(helper: HelperModel) -> Path | None:
    """The folder to load `helper` from: its installed weights, or for a demo helper (while
    demo models are on) its tiny random checkpoint, written once into the models folder's
    `.demo/` (the system's temporary folder without one). None when it cannot run here.

    A demo helper goes through the same `from_pretrained` as real weights, so a demo job
    exercises the loaders that real checkpoints use. Its weights are seeded: every process
    that writes it writes the same files, and the first complete folder renamed into place
    wins."""
    if not helper.builtin:
        return helper.installed_path()
    if not helper.is_installed():
        return None
    return demo_checkpoint(helper.id, save_helper, model_complete)


def demo_checkpoint(model_id: str, save: Callable[[str, Path], Any],
                    complete: Callable[[Path], bool]) -> Path:
    """The folder of demo model `model_id` under the models folder's `.demo/`, written by
    `save(model_id, folder)` the first time; `complete` says whether a folder is whole. The
    first complete folder renamed into place wins, so processes racing to write it agree."""
    root = Path(os.environ.get(MODELS_DIR_ENV) or tempfile.gettempdir()) / DEMO_DIR
    folder = root / model_id
    if complete(folder):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{model_id}.", dir=root))
    try:
        save(model_id, staging)
        if folder.exists() and not complete(folder):
            shutil.rmtree(folder, ignore_errors=True)  # an incomplete one: never loadable
        try:
            staging.rename(folder)
        except OSError:
            if not complete(folder):  # another process's rename won, or a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_helper(helper: HelperModel, device: Any = None) -> tuple[Any, Any]:
    """(model in eval mode on `device`, its image processor or None), loaded from the folder
    `helper_folder` finds; GenerationError(weights_missing) when it is not installed."""
    import torch
    import transformers

    device = torch.device(device) if device is not None else default_device()
    folder = helper_folder(helper)
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
