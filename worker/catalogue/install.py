"""Whether a preset's weights are on this machine: its folder in the models folder, or a
snapshot in the Hugging Face cache. Never touches the network; no torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

MODELS_DIR_ENV = "FRAMECRAFT_MODELS_DIR"
# Whether the built-in demo models (random weights, noise-like output: `tiny` and the `demo-*`
# presets and helpers) are offered. On by default so that a fresh `make run` can try every
# task; production turns them off. webapp/settings.py validates the value at start-up.
DEMO_MODELS_ENV = "FRAMECRAFT_DEMO_MODELS"
_ON, _OFF = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def demo_models_enabled() -> bool:
    """`$FRAMECRAFT_DEMO_MODELS`, read at call time (tests and workers set it per process);
    unset means on. The same words as webapp/env.py's booleans; anything else is refused."""
    value = os.environ.get(DEMO_MODELS_ENV, "").strip().lower()
    if not value or value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{DEMO_MODELS_ENV}={value!r} is malformed: expected one of 1/0, "
                     "true/false, yes/no, on/off")


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
    return not checkpoint_problems(folder)


def checkpoint_problems(folder: Path) -> list[str]:
    """What keeps a diffusers pipeline folder from loading, for operators; empty when every
    component `model_index.json` names is there with its weights."""
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return ["no readable model_index.json"]
    if not isinstance(index, dict):
        return ["model_index.json is not a pipeline's index"]
    problems = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        component = folder / name
        if not component.is_dir():
            problems.append(f"component {name}/ is missing")
        elif (component / "config.json").is_file() and not _has_weights(component):
            problems.append(f"component {name}/ has no weight files")
    return problems


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
# processor's or the video processor's, or a language model's tokenizer's.
PROCESSOR_CONFIGS = ("preprocessor_config.json", "processor_config.json",
                     "video_preprocessor_config.json", "tokenizer_config.json")


def model_complete(folder: Path) -> bool:
    """Whether a transformers model folder has its config, a processor config (both readable)
    and all weight files."""
    return not model_problems(folder)


def model_problems(folder: Path) -> list[str]:
    """What keeps a transformers model folder from loading, for operators; empty when whole."""
    problems = []
    if not _readable_json(folder / "config.json"):
        problems.append("no readable config.json")
    if not any(_readable_json(folder / name) for name in PROCESSOR_CONFIGS):
        problems.append(f"no readable processor config ({', '.join(PROCESSOR_CONFIGS)})")
    if folder.is_dir() and not _has_weights(folder):
        problems.append("no weight files")
    return problems


def _readable_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True
