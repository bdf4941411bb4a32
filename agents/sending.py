"""Sending that waits for the broker's acknowledgement.

An agent's input offset is committed once it has processed a message, so anything it
produced must be acknowledged first, or a crash between the two would lose it.
"""

from __future__ import annotations

from faust.types import TopicT


async def send_acked(
    topic: TopicT, key: str, value: bytes, headers: dict[str, bytes] | None = None
) -> None:
    pending = await topic.send(key=key.encode(), value=value, headers=headers)
    await pending
