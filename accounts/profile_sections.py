"""What other apps show on the profile page. The API app adds its webhooks here when it
loads, so accounts imports nothing of the API (the API depends on accounts, not the reverse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.models import User

# A section gives the template the context it renders for one person.
ProfileSection = Callable[[User], dict[str, Any]]

_SECTIONS: list[ProfileSection] = []


def add_profile_section(section: ProfileSection) -> None:
    if section not in _SECTIONS:
        _SECTIONS.append(section)


def sections_context(user: User) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for section in _SECTIONS:
        context.update(section(user))
    return context
