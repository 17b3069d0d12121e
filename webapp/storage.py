"""Local media storage whose files appear whole or not at all.

Django's FileSystemStorage writes straight to the final name, so a process killed mid-write,
or a disk that fills up, leaves a half-written file that a row may point at (a video that
never plays). Here each file is written under a temporary name in its own folder and
hard-linked into place once complete; the link fails rather than replace a file another
writer made meanwhile. A killed writer leaves only a `.partial-` file, which no row names and
`manage.py check_media --delete-orphans` removes.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from typing import Any

from django.core.files.storage import FileSystemStorage

PARTIAL_PREFIX = ".partial-"


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content: Any) -> str:
        folder, base = posixpath.split(name)
        partial = posixpath.join(folder, f"{PARTIAL_PREFIX}{uuid.uuid4().hex}-{base}")
        try:
            partial = super()._save(partial, content)  # type: ignore[misc]  # not in the stubs
            while True:
                try:
                    os.link(self.path(partial), self.path(name))
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(partial))
        return name.replace("\\", "/")
