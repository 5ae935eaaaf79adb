"""Turns per conversation for the delivery worker, so that one rate-limited conversation holds up no other.

Slack limits chat.postMessage per conversation (about one a second, with short bursts) and answers 429
with Retry-After when a conversation is over it. A send that slept that out would hold one of the
worker's few send slots; instead the conversation is parked until Slack allows it again, and from then on
its messages go out one at a time, a second apart. Conversations Slack never limited are not slowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Slack's documented pace for chat.postMessage to one conversation, kept once Slack has said it is busy.
SPACING_AFTER_RATE_LIMIT_SECONDS = 1.0


class ConversationPacer:
    def __init__(self, spacing_after_rate_limit: float = SPACING_AFTER_RATE_LIMIT_SECONDS) -> None:
        self._spacing_after_rate_limit = spacing_after_rate_limit
        self._turns: dict[str, asyncio.Lock] = {}
        self._not_before: dict[str, float] = {}
        self._spacing: dict[str, float] = {}
        self.parked = 0  # sends waiting for their conversation's turn
        self.changed = asyncio.Event()  # set whenever `parked` changes

    @asynccontextmanager
    async def turn(self, conversation: str) -> AsyncIterator[None]:
        """Wait until `conversation` may get a message, then hold it: one send in flight per conversation."""
        loop = asyncio.get_running_loop()
        self._park(+1)
        parked = True
        try:
            async with self._turns.setdefault(conversation, asyncio.Lock()):
                wait = self._not_before.get(conversation, 0.0) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._park(-1)
                parked = False
                try:
                    yield
                finally:
                    spacing = self._spacing.get(conversation, 0.0)
                    self._not_before[conversation] = max(self._not_before.get(conversation, 0.0), loop.time() + spacing)
        finally:
            if parked:
                self._park(-1)

    def rate_limited(self, conversation: str, retry_after: float) -> None:
        """Slack asked to wait: no message to `conversation` before then, and one a second after."""
        loop = asyncio.get_running_loop()
        self._not_before[conversation] = max(self._not_before.get(conversation, 0.0), loop.time() + retry_after)
        self._spacing[conversation] = self._spacing_after_rate_limit

    def _park(self, delta: int) -> None:
        self.parked += delta
        self.changed.set()
