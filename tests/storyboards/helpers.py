"""Building storyboards for the tests: through the pages' own endpoints where it matters."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from storyboards.models import Shot, Storyboard
from tests.conftest import csrf_post


def shot_data(**overrides: Any) -> dict[str, Any]:
    data = {"prompt": "a lighthouse at dusk", "preset": "demo-ltx2", "num_frames": "9",
            "transition": "cut", "lora_strength": "1.0", "seed": "7"}
    data.update({key: str(value) for key, value in overrides.items()})
    return data


def add_shot(client: Any, board: Storyboard, **overrides: Any) -> Any:
    return csrf_post(client, reverse("add_shot", args=[board.id]), shot_data(**overrides),
                     HTTP_HX_REQUEST="true")


def shots(board: Storyboard) -> list[Shot]:
    return list(board.shots.order_by("position"))
