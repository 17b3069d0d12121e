"""Installing, verifying and removing a preset's weights (operators' tools; workers never
download during a job).

Weights go to `$FRAMECRAFT_MODELS_DIR/<id>` when a models folder is configured, else to the
Hugging Face cache; only the files a diffusers pipeline needs are fetched. Before downloading,
the repository's size (from the Hub's file metadata) is checked against the free disk space.
While downloading, byte progress is reported through the caller's `say` callback.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from .base import Preset
from .helpers import HelperModel
from .install import (
    checkpoint_complete,
    checkpoint_problems,
    hf_cache_dir,
    model_complete,
    model_problems,
)

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
# What a transformers model folder needs (a helper model's repository holds just that).
HELPER_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]
# Room left over beyond the download itself (temporary files, logs).
DISK_MARGIN = 1.05
# Where components from other repositories are downloaded before they are moved into place,
# inside the preset's folder so the move is a rename on the same disk.
STAGING_DIR = ".download"

# (repo, patterns, subfolder) -> bytes; a pattern starting with "!" excludes what it matches.
SizeLookup = Callable[[str, list[str], str | None], int]
# What installs here: a pipeline preset, or a helper model (background removal, depth, pose,
# mask tracking).
Installable = Preset | HelperModel
T = TypeVar("T")


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


def _hub_error(repo: str, exc: Exception) -> WeightsError:
    """What went wrong talking to the Hub, in the operator's terms."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    where = _endpoint() or "https://huggingface.co"
    if isinstance(exc, RepositoryNotFoundError):  # also gated repositories
        return WeightsError(
            f"{repo} is not on the Hugging Face Hub at {where}, or it is gated: accept its "
            "licence on the Hub and give the worker a token (HF_TOKEN)."
        )
    # snapshot_download turns connection failures into LocalEntryNotFoundError.
    if isinstance(exc, LocalEntryNotFoundError) or not isinstance(exc, OSError):
        return _unreachable(repo, exc)
    # Other HTTP answers, a full disk, a file that arrived short: say what it was.
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = "the Hub answered" if isinstance(exc, HfHubHTTPError) else "it failed"
    return WeightsError(
        f"Downloading {repo} from {where} did not complete: {kind} {detail}. Run the install "
        "again to resume; files already downloaded are kept."
    )


def hub_size(repo: str, patterns: list[str], subfolder: str | None = None) -> int:
    """Bytes of the repository's files that the patterns select (one metadata request).

    Patterns are matched as snapshot_download matches them; those starting with "!" exclude.
    With `subfolder`, only files under it count, matched by their path inside it.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    try:
        info = HfApi(endpoint=_endpoint()).model_info(repo, files_metadata=True)
    except Exception as exc:  # any transport or HTTP failure
        raise _hub_error(repo, exc) from None
    sizes: dict[str, int] = {}
    for sibling in info.siblings or []:
        name = sibling.rfilename
        if subfolder:
            if not name.startswith(subfolder + "/"):
                continue
            name = name[len(subfolder) + 1 :]
        sizes[name] = sibling.size or 0
    allow, ignore = _patterns(patterns)
    chosen = filter_repo_objects(sizes, allow_patterns=allow or None,
                                 ignore_patterns=ignore or None)
    return sum(sizes[name] for name in chosen)


def _sources(preset: Installable) -> list[tuple[str, str | None, str | None, list[str]]]:
    """(repo, subfolder in repo, folder in the pipeline, patterns) for each download."""
    assert preset.source is not None
    if isinstance(preset, HelperModel):
        return [(preset.source, None, None, HELPER_PATTERNS)]
    replaced = set(preset.component_sources)
    base_patterns = [*ALLOW_PATTERNS, *(f"!{name}/*" for name in replaced)]
    if preset.source is None:
        return []  # built in: nothing to download
    downloads: list[tuple[str, str | None, str | None, list[str]]] = [
        (preset.source, None, None, base_patterns)]
    for name, (repo, subfolder) in preset.component_sources.items():
        files = ["*.json", "*.safetensors", "*.txt", "*.model"]
        patterns = [f"{subfolder}/{p}" for p in files] if subfolder else files
        downloads.append((repo, subfolder, name, patterns))
    return downloads


def _patterns(patterns: list[str]) -> tuple[list[str], list[str]]:
    allow = [p for p in patterns if not p.startswith("!")]
    ignore = [p[1:] for p in patterns if p.startswith("!")]
    return allow, ignore


def download_size(preset: Installable, size_lookup: SizeLookup = hub_size) -> int:
    """Bytes `fetch` downloads for the preset: what each repository's patterns select."""
    return sum(size_lookup(repo, patterns, None) for repo, _, _, patterns in _sources(preset))


def target_dir(preset: Installable) -> Path:
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
    preset: Installable,
    *,
    size_lookup: SizeLookup = hub_size,
    say: Callable[[str], None] = print,
) -> Path:
    """Download a preset's weights and verify them.

    `say` gets what happens, line by line, byte progress included, always on the calling thread
    (the worker's `say` writes to the database).
    """
    if preset.builtin:
        say(f"{preset.id} is built in: nothing to download.")
        return Path()
    if _offline():
        raise WeightsError(
            "HF_HUB_OFFLINE is set: this machine may not download. Copy the pipeline folder "
            f"into {preset.local_dir() or 'the models folder'} instead."
        )
    if isinstance(preset, Preset) and preset.loras:
        return _fetch_loras(preset, say)
    target = target_dir(preset)
    needed = download_size(preset, size_lookup)
    free = shutil.disk_usage(_existing_parent(target)).free
    say(f"{preset.id}: {_amount(needed)} to download into {target} ({_amount(free)} free).")
    if needed * DISK_MARGIN > free:
        raise WeightsError(
            f"Not enough disk space for {preset.id}: it needs {needed / 1e9:.1f} GB and "
            f"{free / 1e9:.1f} GB is free at {target}. Free some space (fetch_model <id> "
            "--remove) or point FRAMECRAFT_MODELS_DIR at a larger disk."
        )
    local = preset.local_dir()
    progress = _Progress(preset.id, needed)
    moves: list[tuple[Path, Path]] = []
    for repo, subfolder, component, patterns in _sources(preset):
        say(f"fetching {repo}{'/' + subfolder if subfolder else ''} ...")
        # A component is downloaded into a staging folder in the preset's own folder and moved
        # into place once every download is done: never through the HF cache, which would
        # store the biggest files twice, and an interrupted install resumes from staging.
        into = local if component is None or local is None else _staging(local, repo)
        try:
            path = progress.run(partial(_snapshot, repo, patterns, into, progress), say)
        except Exception as exc:
            raise _hub_error(repo, exc) from None
        if component is not None and local is not None:
            moves.append((Path(path) / subfolder if subfolder else Path(path), local / component))
    progress.finish(say)
    for source, destination in moves:
        if destination.exists():
            shutil.rmtree(destination)
        source.rename(destination)
    if local is not None and isinstance(preset, Preset) and preset.component_sources:
        shutil.rmtree(local / STAGING_DIR, ignore_errors=True)
        _write_model_index(preset, local)
    problems = verify(preset)
    if problems:
        # A damaged file would otherwise stay: the preset would look installed, and the next
        # install would find the file already there and not fetch it again.
        folder = preset.installed_path()
        for damaged in _unreadable_files(folder) if folder is not None else []:
            if damaged.is_symlink():  # the HF cache's snapshot entry: its blob holds the bytes
                damaged.resolve().unlink(missing_ok=True)
            damaged.unlink(missing_ok=True)
        raise WeightsError(
            f"{preset.id} downloaded but does not verify: {'; '.join(problems)}. The damaged "
            "files were removed; installing again downloads them again."
        )
    installed = preset.installed_path()
    say(f"{preset.id} installed at {installed}.")
    return installed or target


# Archives `install_from` unpacks, by how their names end.
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


def install_from(preset: Installable, source: Path,
                 say: Callable[[str], None] = print) -> Path:
    """Install weights copied from a folder or an archive on this machine (no Hub): the
    folder in the Hub's layout, checked as the loader checks it, then moved whole into
    `$FRAMECRAFT_MODELS_DIR/<id>`. Refused with what is wrong, leaving nothing behind."""
    if preset.builtin:
        raise WeightsError(f"{preset.id} is built in: there is nothing to install.")
    if isinstance(preset, Preset) and preset.loras:
        files = " and ".join(lora.filename for lora in preset.loras)
        raise WeightsError(
            f"{preset.id} is a LoRA on {preset.preview_of}: copy {files} into "
            f"{preset.local_dir() or 'its folder of the models folder'} instead.")
    target = preset.local_dir()
    if target is None:
        raise WeightsError("Installing from a folder or archive needs a models folder: set "
                           "FRAMECRAFT_MODELS_DIR.")
    source = source.expanduser()
    if not source.exists():
        raise WeightsError(f"{source} does not exist.")
    if source.is_file() and not source.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise WeightsError(f"{source} is neither a folder nor a .tar, .tar.gz or .zip "
                           "archive.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Staged beside its destination, so that putting it in place is one rename on one disk.
    staging = Path(tempfile.mkdtemp(prefix=f".install-{preset.id}.", dir=target.parent))
    try:
        copied = staging / "weights"
        say(f"{preset.id}: copying {source} ...")
        if source.is_dir():
            shutil.copytree(source, copied)
        else:
            _unpack(source, copied)
        folder = _layout_root(copied)
        if problems := _install_problems(preset, folder):
            raise WeightsError(f"{source} cannot be installed as {preset.id}: "
                               f"{'; '.join(problems)}. Nothing was installed.")
        _replace(target, folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"{preset.id} installed at {target}.")
    return target


def _unpack(archive: Path, into: Path) -> None:
    """An archive's files into `into`, none outside it (no absolute paths, `..` or links)."""
    into.mkdir()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    if not (into / member).resolve().is_relative_to(into.resolve()):
                        raise WeightsError(f"{archive} holds a path outside itself: {member}.")
                bundle.extractall(into)
        else:
            with tarfile.open(archive) as bundle:
                # The "data" filter refuses absolute paths, `..`, links out and device files.
                bundle.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise WeightsError(f"{archive} could not be unpacked ({exc}).") from None


def _layout_root(folder: Path) -> Path:
    """Where the Hub's layout begins: the folder, or the one folder an archive wrapped it in."""
    entries = [entry for entry in folder.iterdir() if entry.name != "__MACOSX"]
    markers = ("model_index.json", "config.json")
    if len(entries) == 1 and entries[0].is_dir() and not any(
            (folder / name).exists() for name in markers):
        return entries[0]
    return folder


def _install_problems(preset: Installable, folder: Path) -> list[str]:
    """The loader's completeness checks, the class the weights are for, readable files."""
    if isinstance(preset, HelperModel):
        problems = model_problems(folder)
        wanted = preset.model_class
        try:
            named = json.loads((folder / "config.json").read_text()).get("architectures") or []
        except (OSError, ValueError, AttributeError):
            named = []
        if named and wanted not in named:
            problems.append(f"its config.json is for {', '.join(named)}, not {wanted}")
    else:
        problems = checkpoint_problems(folder)
        wanted = preset.pipeline_class
        try:
            named = json.loads((folder / "model_index.json").read_text()).get("_class_name")
        except (OSError, ValueError, AttributeError):
            named = None
        if named is not None and named != wanted:
            problems.append(f"its model_index.json is for {named}, not {wanted}")
    if not problems:
        problems = [f"{path.relative_to(folder)} is unreadable ({reason})"
                    for path, reason in _unreadable_files(folder).items()]
    return problems


def _replace(target: Path, folder: Path, staging: Path) -> None:
    """`folder` in place of whatever `target` held, by renames: a job never meets a half
    folder. What it held is moved aside first and deleted once the new folder is in place."""
    old = staging / "replaced"
    if target.exists():
        target.rename(old)
    try:
        folder.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)
        raise


def _fetch_loras(preset: Preset, say: Callable[[str], None]) -> Path:
    """A Preview variant's LoRA files (one, or one per expert), beside nothing else: they fuse
    into its base preset's weights, which must be installed first. The path of the first."""
    from huggingface_hub import hf_hub_download

    from . import get_preset

    assert preset.preview_of is not None
    base = get_preset(preset.preview_of)
    if not base.is_installed():
        raise WeightsError(f"{preset.id} is a LoRA on {base.id}: install that first "
                           f"(fetch_model {base.id}).")
    paths: list[Path] = []
    for lora in preset.loras:
        say(f"fetching {lora.repo}/{lora.filename} ...")
        try:
            paths.append(Path(hf_hub_download(lora.repo, lora.filename,
                                              local_dir=preset.local_dir(),
                                              cache_dir=hf_cache_dir(), endpoint=_endpoint())))
        except Exception as exc:
            raise _hub_error(lora.repo, exc) from None
    if problems := verify(preset):
        for path in paths:
            path.unlink(missing_ok=True)
        raise WeightsError(f"{preset.id} downloaded but does not verify: {'; '.join(problems)}.")
    say(f"{preset.id} installed at {', '.join(str(path) for path in paths)}.")
    return paths[0]


def _snapshot(repo: str, patterns: list[str], local_dir: Path | None, progress: _Progress) -> str:
    """One repository's selected files, into `local_dir` or (without one) the HF cache."""
    from huggingface_hub import snapshot_download

    allow, ignore = _patterns(patterns)
    return str(snapshot_download(
        repo, allow_patterns=allow, ignore_patterns=ignore or None, local_dir=local_dir,
        # Always explicit: huggingface_hub read HF_HOME once, at import.
        cache_dir=hf_cache_dir(),
        endpoint=_endpoint(),
        tqdm_class=progress.bar_class(),
    ))


def _staging(local: Path, repo: str) -> Path:
    return local / STAGING_DIR / repo.replace("/", "--")


def _scale(total: float) -> tuple[float, str]:
    """The unit that reads well for amounts up to `total`: (bytes per unit, its name)."""
    for size, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if total >= size:
            return size, unit
    return 1, "bytes"


def _amount(count: float) -> str:
    size, unit = _scale(count)
    return f"{count / size:.1f} {unit}"


class _Progress:
    """Bytes downloaded for one preset, as lines like `wan2.1-t2v-1.3b: 3.2 / 10.4 GB (31%)`.

    huggingface_hub reports bytes to the tqdm class it is given, from its download threads. Lines
    are queued and handed to `say` on the thread that runs the download (`run`): the worker's
    `say` writes to the database, and a Django connection belongs to one thread. A line comes
    each time another STEP_PERCENT is done, or after QUIET_S with any progress, so even a long
    download makes a few dozen lines, not thousands.
    """

    STEP_PERCENT = 5
    QUIET_S = 30.0
    # snapshot_download's bar of bytes written to disk (its other byte bar counts network bytes).
    BYTES_BAR = "huggingface_hub.snapshot_download"

    def __init__(self, preset_id: str, total: int) -> None:
        self.preset_id = preset_id
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._next_percent = self.STEP_PERCENT
        self._last_line = time.monotonic()
        self._reported_all = False
        self._bar_class: type | None = None

    def line(self, done: int) -> str:
        percent = min(100, int(done * 100 / self.total)) if self.total else 100
        size, unit = _scale(self.total)
        return f"{self.preset_id}: {done / size:.1f} / {self.total / size:.1f} {unit} ({percent}%)"

    def add(self, count: int) -> None:
        """Count bytes (from any thread); queue a line when it is time for one."""
        with self._lock:
            self.done += count
            percent = self.done * 100 / self.total if self.total else 0
            now = time.monotonic()
            if percent < self._next_percent and now - self._last_line < self.QUIET_S:
                return
            self._next_percent = (int(percent) // self.STEP_PERCENT + 1) * self.STEP_PERCENT
            self._last_line = now
            self._reported_all = self.done >= self.total
            self._lines.put(self.line(self.done))

    def finish(self, say: Callable[[str], None]) -> None:
        """Everything is on disk: the last line reads 100% (files kept from an earlier,
        interrupted run were not downloaded again, so the count may have stopped short)."""
        if not self._reported_all:
            say(self.line(self.total))

    def run(self, work: Callable[[], T], say: Callable[[str], None]) -> T:
        """`work()` in a thread while this one passes its progress lines to `say`."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = work()
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc
            finally:
                self._lines.put(None)

        thread = threading.Thread(target=target, name=f"fetch {self.preset_id}", daemon=True)
        thread.start()
        while (line := self._lines.get()) is not None:
            say(line)
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return cast(T, outcome["value"])

    def bar_class(self) -> type:
        """A tqdm class for snapshot_download that draws nothing and counts bytes here."""
        if self._bar_class is None:
            from huggingface_hub.utils import tqdm as hf_tqdm

            progress = self

            class _Bar(hf_tqdm):
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    self.counts_bytes = kwargs.get("name") == _Progress.BYTES_BAR
                    super().__init__(*args, **{**kwargs, "disable": True})

                def update(self, n: float | None = 1) -> bool | None:
                    if self.counts_bytes and n:
                        progress.add(int(n))
                    return cast("bool | None", super().update(n))

            self._bar_class = _Bar
        return self._bar_class


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


def verify(preset: Installable) -> list[str]:
    """Problems with the installed weights; empty when they load."""
    if preset.builtin:
        return []
    if isinstance(preset, Preset) and preset.loras:
        loras = preset.lora_paths()
        if loras is None:
            return ["not installed"]
        return [f"{lora.name} is unreadable ({reason})" for lora in loras
                for reason in _unreadable_files(lora.parent, lora.name).values()]
    folder = preset.installed_path()
    if folder is None:
        local = preset.local_dir()
        if local is not None and local.exists():
            return [f"{local} is incomplete (a component or weight file is missing)"]
        return ["not installed"]
    complete = model_complete if isinstance(preset, HelperModel) else checkpoint_complete
    if not complete(folder):
        return [f"{folder} is incomplete"]
    return [f"{path.relative_to(folder)} is unreadable ({reason})"
            for path, reason in _unreadable_files(folder).items()]


def _unreadable_files(folder: Path, pattern: str = "*.safetensors") -> dict[Path, str]:
    """Weight files whose safetensors header cannot be read, with the reason."""
    from safetensors import safe_open

    unreadable = {}
    for path in sorted(folder.rglob(pattern)):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except Exception as exc:
            unreadable[path] = str(exc)
    return unreadable


def _file_bytes(folder: Path) -> int:
    # Not following links: the HF cache's snapshot entries are links to its blobs, which would
    # count every file twice.
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def installed_bytes(preset: Installable) -> int:
    if isinstance(preset, Preset) and preset.loras:
        # A LoRA variant's own files only: the base's weights are the base's.
        return sum(lora.stat().st_size for lora in preset.lora_paths() or [])
    folder = preset.installed_path()
    if folder is None:
        return 0
    # A snapshot in the HF cache holds only links: count what they point at.
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def remove(preset: Installable) -> int:
    """Delete the preset's weights from the models folder and the HF cache; bytes freed."""
    freed = 0
    folders: list[Path] = []
    local = preset.local_dir()
    if local is not None and local.exists():
        folders.append(local)
    if isinstance(preset, Preset) and preset.loras:
        # Never the base's weights: only this variant's files, wherever they are (one of a
        # pair may be there without the other).
        for path in (preset.lora_path(lora) for lora in preset.loras):
            if path is not None and not (local is not None and path.is_relative_to(local)):
                freed += path.resolve().stat().st_size
                path.resolve().unlink()
                path.unlink(missing_ok=True)
    elif preset.source is not None and not preset.component_sources:
        cached = hf_cache_dir() / ("models--" + preset.source.replace("/", "--"))
        if cached.exists():
            folders.append(cached)
    for folder in folders:
        freed += _file_bytes(folder)
        shutil.rmtree(folder)
    return freed
