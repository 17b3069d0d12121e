"""Whether a video or an upload has sound, and what the pages say of it: read from what the
worker recorded (a video's recipe) or what probing found (an upload's metadata)."""

from __future__ import annotations

from typing import Any

from generation.models import Upload, Video


def sound_of(item: Video | Upload | None) -> dict[str, Any] | None:
    """The sound's facts ({codec, sample_rate, channels, duration_s, ...}); None if silent."""
    if isinstance(item, Video):
        facts = (item.recipe or {}).get("audio")
    elif isinstance(item, Upload):
        facts = (item.metadata or {}).get("audio")
    else:
        return None
    return facts if isinstance(facts, dict) and facts else None


def has_sound(item: Video | Upload | None) -> bool:
    return sound_of(item) is not None


def describe(facts: dict[str, Any] | None) -> str:
    """One line for people: "AAC, 24 kHz, stereo, 5.0 s"; "" for a silent video."""
    if not facts:
        return ""
    channels = {1: "mono", 2: "stereo"}.get(int(facts.get("channels") or 0),
                                             f"{facts.get('channels')} channels")
    rate = float(facts.get("sample_rate") or 0) / 1000
    parts = [str(facts.get("codec", "")).upper(), f"{rate:g} kHz", channels]
    if facts.get("duration_s"):
        parts.append(f"{float(facts['duration_s']):.1f} s")
    return ", ".join(part for part in parts if part)
