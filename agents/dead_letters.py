"""The dead-letter topic: a message no agent can use, kept whole with why and where from.

Every agent sends what it cannot decode or handle here and goes on with the next message, so
one poison message never stops a partition. Headers: `reason` and `source-topic`; the key
and value are the original bytes, ready to be replayed once the cause is fixed.
"""

from __future__ import annotations

import logging

from agents.app import dead_letter_topic

log = logging.getLogger(__name__)


async def dead_letter(source_topic: str, key: bytes | None, value: bytes, reason: str) -> None:
    log.warning("dead letter from %s (key %r): %s", source_topic, key, reason)
    pending = await dead_letter_topic.send(
        key=key or b"",
        value=value,
        headers={"reason": reason[:2000].encode(), "source-topic": source_topic.encode()},
    )
    await pending
