"""Downloading weights for real: huggingface_hub against a fake Hub (tests/hub_server.py) that
serves tiny checkpoints of the catalogue's presets.

fetch selects only what a pipeline needs, into the models folder or the HF cache, sizes the
download from the Hub's metadata before starting, reports byte progress, refuses files that do not
verify, and assembles FramePack from its three repositories; the result loads through the
production loader. remove frees what fetch wrote. The worker's model operations and the
fetch_model command run the same path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import huggingface_hub.constants
import pytest
from django.core.management import call_command

from generation.models import JobStatus, ModelOperation
from tests.hub_server import FakeHub, files_in
from tests.worker_runtime.test_runtime_checkpoints import SIDE, _request, _small
from worker import models_volume
from worker.catalogue import CATALOGUE, Preset, StepInfo, Task, build_pipeline, get_preset, weights
from worker.models_volume import carry_out
from worker.runtime.cache import PipelineCache, load_pipeline
from worker.runtime.runner import run_generation

WAN = "wan2.1-t2v-1.3b"
WAN_REPO = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
FRAMEPACK = "hunyuanvideo-framepack"
HUNYUAN_REPO = "hunyuanvideo-community/HunyuanVideo"
FRAMEPACK_REPO = "lllyasviel/FramePackI2V_HY"
REDUX_REPO = "lllyasviel/flux_redux_bfl"

# What the real repositories also hold and a pipeline never needs.
README = b"---\nlicense: apache-2.0\n---\n# A model card\n"
PROGRESS = re.compile(r"^(?P<id>\S+): [\d.]+ / [\d.]+ (?:bytes|kB|MB|GB) \((?P<percent>\d+)%\)$")


def _junk(size: int) -> bytes:
    return bytes(range(256)) * (size // 256)


# Tiny checkpoints, built once -------------------------------------------------------------


@pytest.fixture(scope="module")
def wan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The tiny Wan 2.1 T2V checkpoint's files, in the Hub's folder layout."""
    folder = tmp_path_factory.mktemp("wan")
    build_pipeline(WAN, "tiny", seed=0).save_pretrained(folder)
    return files_in(folder)


@pytest.fixture(scope="module")
def framepack_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The tiny FramePack pipeline's files, as one folder; the tests split it into the three
    repositories the preset is assembled from."""
    folder = tmp_path_factory.mktemp("framepack")
    build_pipeline(FRAMEPACK, "tiny", seed=0).save_pretrained(folder)
    return files_in(folder)


def _wan_repo(checkpoint: dict[str, bytes]) -> dict[str, bytes]:
    """The Wan repository as the Hub has it: the pipeline plus files it does not need."""
    return {
        **checkpoint,
        "README.md": README,
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "Wan2.1_VAE.pth": _junk(1_000_000),  # the original-format weights
        "transformer/diffusion_pytorch_model.bin": _junk(500_000),
        "assets/comp_effic.png": _junk(20_000),
    }


def _under(files: dict[str, bytes], folder: str) -> dict[str, bytes]:
    """The files in `folder/`, with paths relative to it."""
    return {path[len(folder) + 1 :]: data for path, data in files.items()
            if path.startswith(folder + "/")}


def _framepack_repos(checkpoint: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    """HunyuanVideo (text encoders, VAE, and a transformer FramePack does not use), FramePack's
    transformer, and Flux Redux (SigLIP image encoder and processor, and its own embedder)."""
    own = ("transformer/", "image_encoder/", "feature_extractor/")
    base = {path: data for path, data in checkpoint.items() if not path.startswith(own)}
    index = json.loads(checkpoint["model_index.json"])
    index["_class_name"] = "HunyuanVideoPipeline"
    index["transformer"] = ["diffusers", "HunyuanVideoTransformer3DModel"]
    del index["image_encoder"], index["feature_extractor"]
    base["model_index.json"] = json.dumps(index, indent=2).encode()
    base["transformer/config.json"] = b'{"_class_name": "HunyuanVideoTransformer3DModel"}'
    base["transformer/diffusion_pytorch_model.safetensors"] = _junk(300_000)
    base["transformer/diffusion_pytorch_model.bin"] = _junk(300_000)
    base["README.md"] = README
    return {
        HUNYUAN_REPO: base,
        FRAMEPACK_REPO: {**_under(checkpoint, "transformer"), "README.md": README},
        REDUX_REPO: {
            **{path: data for path, data in checkpoint.items()
               if path.startswith(("image_encoder/", "feature_extractor/"))},
            "model_index.json": b'{"_class_name": "FluxPriorReduxPipeline"}',
            "image_embedder/config.json": b'{"_class_name": "ReduxImageEncoder"}',
            "image_embedder/diffusion_pytorch_model.safetensors": _junk(200_000),
            "flux1-redux-dev.safetensors": _junk(200_000),
            "README.md": README,
        },
    }


# The hub ----------------------------------------------------------------------------------


@pytest.fixture
def import_time_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The HF cache huggingface_hub chose when it was imported (a fresh, empty folder here):
    fetch must never write there, only where HF_HOME points now."""
    folder = tmp_path / "import-time-hf-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(folder))
    return folder


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, import_time_cache: Path) -> Iterator[FakeHub]:
    """A running fake Hub that fetch talks to (the runtime's fixtures make the machine offline;
    this one puts it online, with the Hub at HF_ENDPOINT)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
    assert not server.unexpected(), "huggingface_hub asked for something the fake Hub lacks"
    assert not import_time_cache.exists()


def _small_preset(preset_id: str, monkeypatch: pytest.MonkeyPatch) -> Preset:
    """The preset limited to the toy sizes tiny checkpoints run at."""
    monkeypatch.setitem(CATALOGUE, preset_id, _small(CATALOGUE[preset_id]))
    return get_preset(preset_id)


def _progress(lines: list[str]) -> list[int]:
    return [int(match["percent"]) for line in lines if (match := PROGRESS.match(line))]


# Fetching ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["models folder", "HF cache"])
def test_fetch_takes_only_what_the_pipeline_needs_loads_runs_and_removes(
    layout, hub, wan_checkpoint, offline_model_store, tmp_path, monkeypatch
):
    if layout == "HF cache":
        monkeypatch.delenv("FRAMECRAFT_MODELS_DIR")
    served = hub.add_repo(WAN_REPO, _wan_repo(wan_checkpoint))
    preset = _small_preset(WAN, monkeypatch)
    assert not preset.is_installed()

    lines: list[str] = []
    folder = weights.fetch(preset, say=lines.append)

    if layout == "models folder":
        assert folder == offline_model_store / WAN
    else:
        repo_folder = tmp_path / "hf" / "hub" / "models--Wan-AI--Wan2.1-T2V-1.3B-Diffusers"
        assert folder == repo_folder / "snapshots" / served.sha
    # Exactly the pipeline's files went over the wire, each once, as the size check counted.
    downloaded = hub.downloaded(WAN_REPO)
    assert sorted(downloaded) == sorted(wan_checkpoint)
    assert all(downloaded[path] == len(data) for path, data in wan_checkpoint.items())
    assert weights.download_size(preset) == sum(downloaded.values())
    # ...and they are on disk as the Hub has them, nothing else beside them.
    on_disk = {path: data for path, data in files_in(folder).items()
               if not path.startswith(".cache/")}
    assert on_disk == wan_checkpoint
    assert _progress(lines)[-1] == 100
    assert lines[-1] == f"{WAN} installed at {folder}."

    assert weights.verify(preset) == []
    assert preset.installed_path() == folder
    seen: list[StepInfo] = []
    request = _request(preset, Task.T2V)
    result = run_generation(request, seen.append, PipelineCache())
    assert result.frames.shape == (request.num_frames, SIDE, SIDE, 3)
    assert [info.step for info in seen] == [1, 2]

    freed = weights.remove(preset)
    assert not folder.exists()
    assert not preset.is_installed()
    # The weights once (an HF cache snapshot holds links to its blobs), plus a little metadata.
    assert sum(downloaded.values()) <= freed < sum(downloaded.values()) + 50_000


def test_framepack_is_assembled_from_three_repositories_and_loads(
    hub, framepack_checkpoint, offline_model_store, tmp_path, monkeypatch
):
    repos = _framepack_repos(framepack_checkpoint)
    for repo_id, files in repos.items():
        hub.add_repo(repo_id, files)
    preset = _small_preset(FRAMEPACK, monkeypatch)

    lines: list[str] = []
    folder = weights.fetch(preset, say=lines.append)

    assert folder == offline_model_store / FRAMEPACK
    # From each repository only its part: no HunyuanVideo transformer, no Redux embedder.
    assert sorted(hub.downloaded(HUNYUAN_REPO)) == sorted(
        path for path in framepack_checkpoint
        if not path.startswith(("transformer/", "image_encoder/", "feature_extractor/"))
    )
    assert sorted(hub.downloaded(FRAMEPACK_REPO)) == sorted(
        _under(framepack_checkpoint, "transformer"))
    assert sorted(hub.downloaded(REDUX_REPO)) == sorted(
        path for path in framepack_checkpoint
        if path.startswith(("image_encoder/", "feature_extractor/"))
    )
    assert weights.download_size(preset) == sum(hub.downloaded().values())
    # Every component is in place, byte for byte, and the index names FramePack's classes.
    on_disk = files_in(folder)
    for path, data in framepack_checkpoint.items():
        if path != "model_index.json":
            assert on_disk[path] == data, path
    index = json.loads(on_disk["model_index.json"])
    assert index["_class_name"] == "HunyuanVideoFramepackPipeline"
    assert index["transformer"] == ["diffusers", "HunyuanVideoFramepackTransformer3DModel"]
    assert index["image_encoder"] == ["transformers", "SiglipVisionModel"]
    # Components came through a staging folder, not the HF cache: stored once.
    assert not (folder / weights.STAGING_DIR).exists()
    assert not list((tmp_path / "hf" / "hub").glob("models--lllyasviel--*/blobs/*"))
    assert _progress(lines)[-1] == 100

    assert weights.verify(preset) == []
    loaded = load_pipeline(FRAMEPACK)
    assert type(loaded.pipeline).__name__ == "HunyuanVideoFramepackPipeline"
    assert type(loaded.pipeline.transformer).__name__ == "HunyuanVideoFramepackTransformer3DModel"
    assert type(loaded.pipeline.image_encoder).__name__ == "SiglipVisionModel"


def test_the_disk_check_uses_the_sizes_the_hub_reports(
    hub, wan_checkpoint, offline_model_store, monkeypatch
):
    served = hub.add_repo(WAN_REPO, _wan_repo(wan_checkpoint))
    served.claimed_sizes["transformer/diffusion_pytorch_model.safetensors"] = 10**15  # 1 PB
    preset = _small_preset(WAN, monkeypatch)

    with pytest.raises(weights.WeightsError, match=f"Not enough disk space for {WAN}"):
        weights.fetch(preset, say=lambda line: None)

    assert weights.download_size(preset) > 10**15
    assert any(request.path == f"/api/models/{WAN_REPO}" for request in hub.requests)
    assert not any("/resolve/" in request.path for request in hub.requests)
    assert not (offline_model_store / WAN).exists()


def test_a_corrupt_file_on_the_hub_fails_the_install_clearly(
    hub, wan_checkpoint, monkeypatch
):
    files = _wan_repo(wan_checkpoint)
    damaged = "transformer/diffusion_pytorch_model.safetensors"
    files[damaged] = files[damaged][: len(files[damaged]) // 2]
    hub.add_repo(WAN_REPO, files)

    with pytest.raises(weights.WeightsError) as caught:
        weights.fetch(_small_preset(WAN, monkeypatch), say=lambda line: None)

    message = str(caught.value)
    assert message.startswith(f"{WAN} downloaded but does not verify")
    assert f"{damaged} is unreadable" in message
    assert "installing again downloads them again" in message
    # The damaged file is gone, so the preset is not taken for installed...
    preset = get_preset(WAN)
    assert preset.installed_path() is None
    # ...and once the Hub serves it whole, installing again fetches it and the rest verifies.
    hub.add_repo(WAN_REPO, _wan_repo(wan_checkpoint))
    hub.requests.clear()
    weights.fetch(preset, say=lambda line: None)
    assert weights.verify(preset) == []
    assert damaged in hub.downloaded(WAN_REPO)


def test_a_repository_missing_from_the_hub_is_named(hub, monkeypatch):
    with pytest.raises(weights.WeightsError, match=f"{WAN_REPO} is not on the Hugging Face Hub"):
        weights.fetch(get_preset(WAN), say=lambda line: None)


# Progress ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_install_operation_reports_byte_progress_on_its_row(
    hub, wan_checkpoint, offline_model_store, monkeypatch
):
    hub.add_repo(WAN_REPO, _wan_repo(wan_checkpoint))
    _small_preset(WAN, monkeypatch)
    # Every line written as it comes (the test's download takes well under the interval), so a
    # line said on another thread, through another database connection, would be lost here.
    monkeypatch.setattr(models_volume, "WRITE_INTERVAL_S", 0.0)
    operation = ModelOperation.objects.create(preset=WAN, action="install")

    assert carry_out(operation.pk, "test-worker") == JobStatus.SUCCEEDED

    operation.refresh_from_db()
    lines = operation.message.splitlines()
    assert lines[0].startswith(f"{WAN}: ") and "to download into" in lines[0]
    assert f"fetching {WAN_REPO} ..." in lines
    percents = _progress(lines)
    assert percents == sorted(percents)
    assert any(percent < 100 for percent in percents), "progress while downloading"
    assert percents[-1] == 100
    size = sum(len(data) for data in wan_checkpoint.values())
    assert f"{WAN}: {size / 1e3:.1f} / {size / 1e3:.1f} kB (100%)" in lines
    assert lines[-1] == f"{WAN} installed at {offline_model_store / WAN}."
    assert operation.finished_at is not None


def test_progress_lines_are_throttled_to_every_five_percent():
    progress = weights._Progress("big-model", total=10_000_000_000)
    for _ in range(1000):
        progress.add(10_000_000)
    lines: list[str] = []
    progress.run(lambda: None, lines.append)  # queued lines reach `say` through run
    progress.finish(lines.append)
    assert len(lines) == 20
    assert lines[0] == "big-model: 0.5 / 10.0 GB (5%)"
    assert lines[-1] == "big-model: 10.0 / 10.0 GB (100%)"


def test_fetch_model_downloads_with_progress_then_finds_it_installed(
    hub, wan_checkpoint, offline_model_store
):
    hub.add_repo(WAN_REPO, _wan_repo(wan_checkpoint))
    out = StringIO()
    call_command("fetch_model", WAN, stdout=out)
    lines = out.getvalue().splitlines()
    assert _progress(lines)[-1] == 100
    assert lines[-1] == f"{WAN} installed at {offline_model_store / WAN}."

    out = StringIO()
    call_command("fetch_model", WAN, stdout=out)
    assert "already installed" in out.getvalue()
    assert len(hub.downloaded()) == len(wan_checkpoint), "nothing downloaded twice"
