"""Whether a preset's weights are on this machine: its folder in the models folder, or a
snapshot in the Hugging Face cache. Never touches the network; no torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

MODELS_DIR_ENV = "FRAMECRAFT_MODELS_DIR"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time.

    huggingface_hub reads it once at import; tests and workers may change it later.
    """
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache)
    if home := os.environ.get("HF_HOME"):
        return Path(home) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "huggingface" / "hub"


def hf_cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder `refs/main` names in the Hugging Face cache, if it is there."""
    found = try_to_load_from_cache(repo_id, "model_index.json", cache_dir=hf_cache_dir())
    return Path(found).parent if isinstance(found, str) else None


def hf_cached_file(repo_id: str, filename: str) -> Path | None:
    """One file of a repository in the Hugging Face cache, if it is there."""
    found = try_to_load_from_cache(repo_id, filename, cache_dir=hf_cache_dir())
    return Path(found) if isinstance(found, str) else None


def checkpoint_complete(folder: Path) -> bool:
    """Whether a diffusers pipeline folder has every component and all weight files.

    A half-finished download must read as "not installed", not crash a job later.
    """
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        component = folder / name
        if not component.is_dir():
            return False
        if (component / "config.json").is_file() and not _has_weights(component):
            return False
    return True


def _has_weights(component: Path) -> bool:
    indexes = sorted(component.glob("*.index.json"))
    if indexes:
        return any(_shards_present(component, index) for index in indexes)
    return any(p.suffix in _WEIGHT_SUFFIXES and p.is_file() for p in component.iterdir())


def _shards_present(component: Path, index: Path) -> bool:
    try:
        shards = set(json.loads(index.read_text())["weight_map"].values())
    except (OSError, ValueError, KeyError, AttributeError):
        return False
    return bool(shards) and all((component / shard).is_file() for shard in shards)


# A transformers processor's settings: the image processor's, or (SAM 2.1 video on the Hub) the
# processor's or the video processor's.
PROCESSOR_CONFIGS = ("preprocessor_config.json", "processor_config.json",
                     "video_preprocessor_config.json")


def model_complete(folder: Path) -> bool:
    """Whether a transformers model folder has its config, a processor config (both readable)
    and all weight files."""
    if not _readable_json(folder / "config.json") or not any(
            _readable_json(folder / name) for name in PROCESSOR_CONFIGS):
        return False
    return _has_weights(folder)


def _readable_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True
