"""The web tier's view of the catalogue: it never imports the worker's runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
