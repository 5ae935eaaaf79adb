"""A warning in the log whenever the event loop could not run for a while.

Every Slack request is answered from the event loop, and Slack gives up after 3 s. When something holds
the loop (CPU-heavy code on it, a long garbage collection, threads hogging the GIL) every request in
flight waits; this names the moment, so that "Slack says the app did not respond" can be matched to it.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05
WARN_AFTER_SECONDS = 0.25


async def watch_event_loop(tick: float = TICK_SECONDS, warn_after: float = WARN_AFTER_SECONDS) -> None:
    """Sleep `tick` again and again; a wake-up more than `warn_after` late is logged with how late."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + tick
        await asyncio.sleep(tick)
        late = loop.time() - expected
        if late > warn_after:
            log.warning("the event loop could not run for %d ms; requests in flight waited as long", late * 1000)
