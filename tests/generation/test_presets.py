"""The web tier's view of the catalogue: what it offers is what is installed, wherever the weights
are (the models folder or the Hugging Face cache), and it never imports the worker's runtime."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from generation.presets import presets_for
from worker.catalogue import Task, build_pipeline, get_preset

ROOT = Path(__file__).resolve().parents[2]
WAN_SMALL = "wan2.1-t2v-1.3b"


def _hf_cache_snapshot(hf_home: Path, repo_id: str, revision: str = "0123abcd") -> Path:
    """The layout huggingface_hub writes: refs/main names the snapshot folder."""
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    return repo / "snapshots" / revision


def test_a_model_only_in_the_hugging_face_cache_is_installed_and_offered(models, tmp_path):
    preset = get_preset(WAN_SMALL)
    assert WAN_SMALL not in [p.id for p in presets_for(Task.T2V)]
    snapshot = _hf_cache_snapshot(tmp_path / "hf", preset.source)
    build_pipeline("tiny").save_pretrained(snapshot)  # a complete model_index.json and weights
    assert not (models / WAN_SMALL).exists()
    assert preset.installed_path() == snapshot
    assert WAN_SMALL in [p.id for p in presets_for(Task.T2V)]
    assert WAN_SMALL in [p.id for p in presets_for(Task.T2V)]


def test_an_incomplete_cache_snapshot_is_not_offered(models, tmp_path):
    snapshot = _hf_cache_snapshot(tmp_path / "hf", get_preset(WAN_SMALL).source)
    build_pipeline("tiny").save_pretrained(snapshot)
    for weights in (snapshot / "vae").glob("*.safetensors"):
        weights.unlink()
    assert WAN_SMALL not in [p.id for p in presets_for(Task.T2V)]


def test_huggingface_hub_is_a_declared_dependency_of_the_web_tier():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [d for d in project["dependencies"] if d.lower().startswith("huggingface")]
    assert declared, "the web tier reads the Hugging Face cache: huggingface_hub is required"
    lower = declared[0].split(">=")[1].split(",")[0]
    installed = importlib.metadata.version("huggingface_hub")
    assert tuple(map(int, installed.split(".")[:2])) >= tuple(map(int, lower.split(".")[:2]))


def test_without_huggingface_hub_the_catalogue_fails_loudly_not_silently():
    # A missing dependency must not read as "no model installed in the cache".
    code = (
        "import sys\n"
        "sys.modules['huggingface_hub'] = None\n"
        "import worker.catalogue\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert "huggingface_hub" in result.stderr


def test_web_modules_import_the_catalogue_but_not_the_worker_runtime():
    # What the web process imports: no torch, no diffusers, nothing of worker.runtime.
    code = (
        "import os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings')\n"
        "import django\n"
        "django.setup()\n"
        "import webapp.urls, webapp.asgi, generation.views, generation.forms, generation.admin\n"
        "import generation.gallery_views, generation.consumers, generation.urls\n"
        "import generation.routing, generation.presets, generation.templatetags.studio\n"
        "import generation.management.commands.fetch_model, accounts.views\n"
        "from django.urls import resolve\n"
        "resolve('/studio/')\n"
        "assert 'worker.catalogue' in sys.modules\n"
        "heavy = sorted(name for name in sys.modules\n"
        "               if name.split('.')[0] in ('torch', 'diffusers', 'transformers')\n"
        "               or name.startswith('worker.runtime'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
