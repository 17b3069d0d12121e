"""Listening to the channel layer like a browser's socket would, from a sync test."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from generation.events import user_group


class GroupListener:
    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.group = group
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)
        self.received: list[dict[str, Any]] = []

    @classmethod
    def for_user(cls, user: Any) -> GroupListener:
        return cls(user_group(user.pk))

    def drain(self, quiet_for: float = 0.3) -> list[dict[str, Any]]:
        async def receive_all() -> None:
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), quiet_for)
                except TimeoutError:
                    return
                self.received.append(message)

        async_to_sync(receive_all)()
        return self.received

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(self.group, self.channel)
