"""Installing, verifying and removing a preset's weights (operators' tools; workers never
download during a job).

Weights go to `$FRAMECRAFT_MODELS_DIR/<id>` when a models folder is configured, else to the
Hugging Face cache; only the files a diffusers pipeline needs are fetched. Before downloading,
the repository's size (from the Hub's file metadata) is checked against the free disk space.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .presets import Preset, checkpoint_complete, hf_cache_dir

# What a diffusers pipeline folder needs: configs, tokenizer files, safetensors weights.
ALLOW_PATTERNS = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/*.model",
    "*/*.tiktoken",
    "*/*.jinja",
    "*/*.safetensors",
]
# Room left over beyond the download itself (temporary files, logs).
DISK_MARGIN = 1.05

SizeLookup = Callable[[str, list[str], str | None], int]


class WeightsError(Exception):
    """An operator-facing failure with what to do about it."""


def _endpoint() -> str | None:
    # huggingface_hub reads HF_ENDPOINT once at import; commands and tests may set it later.
    return os.environ.get("HF_ENDPOINT") or None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _unreachable(repo: str, exc: Exception) -> WeightsError:
    where = _endpoint() or "https://huggingface.co"
    return WeightsError(
        f"Cannot reach the Hugging Face Hub at {where} to fetch {repo} "
        f"({type(exc).__name__}). On an offline machine, copy the pipeline folder (the Hub's "
        "layout, with model_index.json) into the models folder instead."
    )


def hub_size(repo: str, patterns: list[str], subfolder: str | None = None) -> int:
    """Bytes of the repository's files that match the patterns (one metadata request)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=_endpoint()).model_info(repo, files_metadata=True)
    except Exception as exc:  # any transport or HTTP failure means "cannot reach"
        raise _unreachable(repo, exc) from None
    total = 0
    for sibling in info.siblings or []:
        name = sibling.rfilename
        if subfolder:
            if not name.startswith(subfolder + "/"):
                continue
            name = name[len(subfolder) + 1 :]
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            total += sibling.size or 0
    return total


def _sources(preset: Preset) -> list[tuple[str, str | None, str | None, list[str]]]:
    """(repo, subfolder in repo, folder in the pipeline, patterns) for each download."""
    assert preset.source is not None
    replaced = set(preset.component_sources)
    base_patterns = [*ALLOW_PATTERNS, *(f"!{name}/*" for name in replaced)]
    downloads = [(preset.source, None, None, base_patterns)]
    for name, (repo, subfolder) in preset.component_sources.items():
        files = ["*.json", "*.safetensors", "*.txt", "*.model"]
        patterns = [f"{subfolder}/{p}" for p in files] if subfolder else files
        downloads.append((repo, subfolder, name, patterns))
    return downloads


def _patterns(patterns: list[str]) -> tuple[list[str], list[str]]:
    allow = [p for p in patterns if not p.startswith("!")]
    ignore = [p[1:] for p in patterns if p.startswith("!")]
    return allow, ignore


def download_size(preset: Preset, size_lookup: SizeLookup = hub_size) -> int:
    total = 0
    for repo, _subfolder, _, patterns in _sources(preset):
        allow, ignore = _patterns(patterns)
        size = size_lookup(repo, allow, None)
        if ignore:
            size -= sum(size_lookup(repo, [p], None) for p in ignore)
        total += max(0, size)
    return total


def target_dir(preset: Preset) -> Path:
    local = preset.local_dir()
    if local is not None:
        return local
    if preset.component_sources:
        raise WeightsError(
            f"{preset.id} is assembled from several repositories and needs a models folder: "
            "set FRAMECRAFT_MODELS_DIR."
        )
    return hf_cache_dir()


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def fetch(
    preset: Preset,
    *,
    size_lookup: SizeLookup = hub_size,
    say: Callable[[str], None] = print,
) -> Path:
    """Download a preset's weights (with tqdm progress on stderr) and verify them."""
    if preset.builtin:
        say(f"{preset.id} is built in: nothing to download.")
        return Path()
    if _offline():
        raise WeightsError(
            "HF_HUB_OFFLINE is set: this machine may not download. Copy the pipeline folder "
            f"into {preset.local_dir() or 'the models folder'} instead."
        )
    target = target_dir(preset)
    needed = download_size(preset, size_lookup)
    free = shutil.disk_usage(_existing_parent(target)).free
    say(f"{preset.id}: {needed / 1e9:.1f} GB to download into {target} "
        f"({free / 1e9:.1f} GB free).")
    if needed * DISK_MARGIN > free:
        raise WeightsError(
            f"Not enough disk space for {preset.id}: it needs {needed / 1e9:.1f} GB and "
            f"{free / 1e9:.1f} GB is free at {target}. Free some space (fetch_model <id> "
            "--remove) or point FRAMECRAFT_MODELS_DIR at a larger disk."
        )
    from huggingface_hub import snapshot_download

    local = preset.local_dir()
    for repo, subfolder, component, patterns in _sources(preset):
        allow, ignore = _patterns(patterns)
        say(f"fetching {repo}{'/' + subfolder if subfolder else ''} ...")
        try:
            path = snapshot_download(
                repo, allow_patterns=allow, ignore_patterns=ignore or None,
                local_dir=(local if local is not None and component is None else None),
                cache_dir=None if local is not None else hf_cache_dir(),
                endpoint=_endpoint(),
            )
        except Exception as exc:
            raise _unreachable(repo, exc) from None
        if component is not None and local is not None:
            source = Path(path) / subfolder if subfolder else Path(path)
            destination = local / component
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(source, destination)
    if local is not None and preset.component_sources:
        _write_model_index(preset, local)
    problems = verify(preset)
    if problems:
        raise WeightsError(f"{preset.id} downloaded but does not verify: {'; '.join(problems)}")
    installed = preset.installed_path()
    say(f"{preset.id} installed at {installed}.")
    return installed or target


def _write_model_index(preset: Preset, folder: Path) -> None:
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["_class_name"] = preset.pipeline_class
    classes = {
        "transformer": ["diffusers", "HunyuanVideoFramepackTransformer3DModel"],
        "image_encoder": ["transformers", "SiglipVisionModel"],
        "feature_extractor": ["transformers", "SiglipImageProcessor"],
    }
    for name in preset.component_sources:
        index[name] = classes.get(name, index.get(name))
    index_path.write_text(json.dumps(index, indent=2))


def verify(preset: Preset) -> list[str]:
    """Problems with the installed weights; empty when they load."""
    if preset.builtin:
        return []
    folder = preset.installed_path()
    if folder is None:
        local = preset.local_dir()
        if local is not None and local.exists():
            return [f"{local} is incomplete (a component or weight file is missing)"]
        return ["not installed"]
    if not checkpoint_complete(folder):
        return [f"{folder} is incomplete"]
    from safetensors import safe_open

    problems = []
    for path in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except Exception as exc:
            problems.append(f"{path.relative_to(folder)} is unreadable ({exc})")
    return problems


def installed_bytes(preset: Preset) -> int:
    folder = preset.installed_path()
    if folder is None:
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def remove(preset: Preset) -> int:
    """Delete the preset's weights from the models folder and the HF cache; bytes freed."""
    freed = 0
    folders: list[Path] = []
    local = preset.local_dir()
    if local is not None and local.exists():
        folders.append(local)
    if preset.source is not None and not preset.component_sources:
        cached = hf_cache_dir() / ("models--" + preset.source.replace("/", "--"))
        if cached.exists():
            folders.append(cached)
    for folder in folders:
        freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
    return freed
